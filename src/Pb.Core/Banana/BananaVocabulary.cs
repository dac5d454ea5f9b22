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
        // Dispatch on the first byte: at most four words share one.
        switch (bytes[0])
        {
            case (byte)'N': return Match(bytes, 1);
            case (byte)'c':
                return Match(bytes, 2) | Match(bytes, 13) | Match(bytes, 14) | Match(bytes, 15) | Match(bytes, 22) | Match(bytes, 25);
            case (byte)'d':
                return Match(bytes, 3) | Match(bytes, 5) | Match(bytes, 29) | Match(bytes, 30);
            case (byte)'r': return Match(bytes, 4) | Match(bytes, 16);
            case (byte)'f': return Match(bytes, 6);
            case (byte)'i': return Match(bytes, 7);
            case (byte)'l':
                return Match(bytes, 8) | Match(bytes, 17) | Match(bytes, 18) | Match(bytes, 20) | Match(bytes, 23);
            case (byte)'m': return Match(bytes, 9) | Match(bytes, 26);
            case (byte)'p': return Match(bytes, 10) | Match(bytes, 21);
            case (byte)'t': return Match(bytes, 11);
            case (byte)'u': return Match(bytes, 12) | Match(bytes, 31);
            case (byte)'v': return Match(bytes, 19);
            case (byte)'n': return Match(bytes, 24);
            case (byte)'a': return Match(bytes, 27);
            case (byte)'e': return Match(bytes, 28);
            default: return 0;
        }
    }

    // Words with one first letter never match the same input twice, so OR-ing the results is safe.
    private static int Match(ReadOnlySpan<byte> bytes, int index) => bytes.SequenceEqual(s_wordBytes[index]) ? index : 0;
}
