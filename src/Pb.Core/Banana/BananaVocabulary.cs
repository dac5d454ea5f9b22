using System.Text;

namespace Pb.Banana;

/// <summary>
/// The fixed PB vocabulary of dialect <c>pb</c> (Twisted 22.4, <c>spread/pb.py</c>): a byte string equal to
/// one of these 31 words is sent as <c>index 0x87</c>, wherever it appears (tags, method names, user data).
/// <c>b"remote"</c> is <c>10 87</c>; <c>b"login"</c> is <c>14 87</c>.
/// </summary>
public static class BananaVocabulary
{
    private static readonly string[] s_words =
    [
        "", "None", "class", "dereference", "reference", "dictionary", "function", "instance", "list",
        "module", "persistent", "tuple", "unpersistable", "copy", "cache", "cached", "remote", "local",
        "lcache", "version", "login", "password", "challenge", "logged_in", "not_logged_in", "cachemessage",
        "message", "answer", "error", "decref", "decache", "uncache",
    ];

    private static readonly byte[][] s_wordBytes = Array.ConvertAll(s_words, Encoding.ASCII.GetBytes);

    /// <summary>The highest valid index (31). Index 0 is not used.</summary>
    public const int MaxIndex = 31;

    // Shortest and longest word, so most strings are rejected by length alone.
    private const int MinWordLength = 4;  // "None", "list", "copy"
    internal const int MaxWordLength = 13; // "unpersistable", "not_logged_in"

    /// <summary>Returns the word at <paramref name="index"/> (1..31), or false for any other index.</summary>
    public static bool TryGetWord(long index, out ReadOnlySpan<byte> word)
    {
        if (index is >= 1 and <= MaxIndex)
        {
            word = s_wordBytes[index];
            return true;
        }
        word = default;
        return false;
    }

    internal static byte[] GetWordArray(int index) => s_wordBytes[index];

    /// <summary>The word at <paramref name="index"/> as text, for messages and tests.</summary>
    public static string GetWordText(int index) => s_words[index];

    /// <summary>Returns the vocabulary index of <paramref name="bytes"/>, or 0 when it is not a word.</summary>
    public static int IndexOf(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < MinWordLength || bytes.Length > MaxWordLength)
        {
            return 0;
        }
        // The words that could match, by the first byte's low five bits and the length: at most two, one compare each.
        int candidates = s_candidates[((bytes[0] & 31) << 4) | bytes.Length];
        if (candidates == 0)
        {
            return 0;
        }
        int first = candidates & 0xFF;
        if (bytes.SequenceEqual(s_wordBytes[first]))
        {
            return first;
        }
        int second = candidates >> 8;
        return second != 0 && bytes.SequenceEqual(s_wordBytes[second]) ? second : 0;
    }

    // Entry (b & 31) << 4 | n: the indexes (low byte, then high byte) of the words whose first byte has low bits b and
    // whose length is n. "class" and "cache", "local" and "login" share one; no three words do.
    private static readonly ushort[] s_candidates = BuildCandidates();

    private static ushort[] BuildCandidates()
    {
        var candidates = new ushort[32 * 16];
        for (int i = 1; i <= MaxIndex; i++)
        {
            byte[] word = s_wordBytes[i];
            ref ushort entry = ref candidates[((word[0] & 31) << 4) | word.Length];
            entry = entry == 0 ? (ushort)i : (entry >> 8) == 0 ? (ushort)(entry | (i << 8)) : throw new InvalidOperationException("three words share a slot");
        }
        return candidates;
    }
}
