using System.Buffers.Binary;
using Pb.Banana;

namespace Pb.Jelly;

/// <summary>What one scalar dict entry's value is, as <see cref="ScalarEntries.TryRead"/> found it.</summary>
internal enum ScalarKind : byte { None, Int, Float, Text, True, False }

/// <summary>One <c>[["unicode", key], scalar]</c> entry located in a message's bytes (offsets into that span).</summary>
internal struct ScalarEntry
{
    public int KeyStart, KeyLength, ValueStart, ValueLength;
    public long Integer;
    public ScalarKind Kind;

    public readonly ReadOnlySpan<byte> Key(ReadOnlySpan<byte> s) => s.Slice(KeyStart, KeyLength);

    /// <summary>The UTF-8 bytes of a <see cref="ScalarKind.Text"/> value.</summary>
    public readonly ReadOnlySpan<byte> Text(ReadOnlySpan<byte> s) => s.Slice(ValueStart, ValueLength);

    public readonly double Float(ReadOnlySpan<byte> s) => BinaryPrimitives.ReadDoubleBigEndian(s.Slice(ValueStart, 8));
}

/// <summary>
/// The byte-level reading both fast paths share (the untyped dict of scalars, the typed record of scalars): a dict
/// entry whose key is text and whose value is an integer of 63 bits, a float, text, a boolean or None, located without
/// allocating. Anything else answers false with nothing consumed, and the token reader takes over.
/// </summary>
internal static class ScalarEntries
{
    /// <summary>Locates the entry at <c>s[p..]</c> and moves <paramref name="p"/> past it; false (and <paramref name="p"/> unchanged) for any other shape.</summary>
    public static bool TryRead(ReadOnlySpan<byte> s, ref int p, JellyConstants constants, int maxItemLength, out ScalarEntry entry)
    {
        entry = default;
        ReadOnlySpan<byte> unicode = constants.UnicodePrefix;
        int q = p;
        // [key, value]: 02 80, then ["unicode", key]
        if (q + 2 > s.Length || s[q] != 2 || s[q + 1] != BananaTypeByte.List || !s[(q + 2)..].StartsWith(unicode))
        {
            return false;
        }
        q += 2 + unicode.Length;
        if (!TryReadBytes(s, ref q, maxItemLength, out entry.KeyStart, out entry.KeyLength))
        {
            return false;
        }
        ReadOnlySpan<byte> rest = s[q..];
        // The commonest values first: floats, text, integers; then None and the booleans.
        if (rest.Length > 0 && rest[0] == BananaTypeByte.Float)
        {
            if (rest.Length < 9)
            {
                return false;
            }
            entry.Kind = ScalarKind.Float;
            entry.ValueStart = q + 1;
            q += 9;
        }
        else if (rest.StartsWith(unicode))
        {
            q += unicode.Length;
            if (!TryReadBytes(s, ref q, maxItemLength, out entry.ValueStart, out entry.ValueLength))
            {
                return false;
            }
            entry.Kind = ScalarKind.Text;
        }
        else if (TryReadInt(s, ref q, out entry.Integer))
        {
            entry.Kind = ScalarKind.Int;
        }
        else if (rest.StartsWith(constants.None))
        {
            entry.Kind = ScalarKind.None;
            q += constants.None.Length;
        }
        else if (rest.StartsWith(constants.True))
        {
            entry.Kind = ScalarKind.True;
            q += constants.True.Length;
        }
        else if (rest.StartsWith(constants.False))
        {
            entry.Kind = ScalarKind.False;
            q += constants.False.Length;
        }
        else
        {
            return false;
        }
        p = q;
        return true;
    }

    /// <summary>A STRING item (not a vocabulary word) of at most <paramref name="maxItemLength"/> bytes.</summary>
    public static bool TryReadBytes(ReadOnlySpan<byte> s, ref int p, int maxItemLength, out int start, out int length)
    {
        start = length = 0;
        int q = p;
        if (!Header(s, ref q, out ulong n, out byte type) || type != BananaTypeByte.String || n > (ulong)maxItemLength || (ulong)(s.Length - q) < n)
        {
            return false;
        }
        start = q;
        length = (int)n;
        p = q + length;
        return true;
    }

    /// <summary>An INT or NEG item of at most 63 bits.</summary>
    public static bool TryReadInt(ReadOnlySpan<byte> s, ref int p, out long value)
    {
        value = 0;
        int q = p;
        if (!Header(s, ref q, out ulong magnitude, out byte type) || magnitude > long.MaxValue)
        {
            return false;
        }
        switch (type)
        {
            case BananaTypeByte.Int or BananaTypeByte.LongInt:
                value = (long)magnitude;
                break;
            case BananaTypeByte.Neg or BananaTypeByte.LongNeg:
                value = -(long)magnitude;
                break;
            default:
                return false;
        }
        p = q;
        return true;
    }

    /// <summary>A banana header (base-128 digits, least significant first) of at most 9 digits (63 bits), and its type byte.</summary>
    public static bool Header(ReadOnlySpan<byte> s, ref int p, out ulong value, out byte type)
    {
        value = 0;
        type = 0;
        int i = p;
        int shift = 0;
        while (i < s.Length && s[i] < 0x80)
        {
            if (shift > 56)
            {
                return false;
            }
            value |= (ulong)s[i] << shift;
            shift += 7;
            i++;
        }
        if (i == p || i >= s.Length)
        {
            return false;
        }
        type = s[i];
        p = i + 1;
        return true;
    }
}
