using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Pb.Banana;

/// <summary>
/// Reads banana items from a <see cref="ReadOnlySequence{T}"/>, one token at a time. Every Try method
/// returns false and consumes nothing when the input ends inside the item; it throws
/// <see cref="BananaException"/> only for malformed or over-limit input.
/// </summary>
/// <remarks>
/// Header bytes are <c>0x00..0x7F</c>, least significant 7-bit digit first; the first byte <c>&gt;= 0x80</c>
/// is the type byte. The decoder accepts an empty header (value 0) and redundant high <c>00</c> digits
/// (<c>05 00 00 81</c> is 5) as Twisted does, ignores header bytes before FLOAT, and does not range-check
/// INT/NEG (an INT may carry 2**32). The per-item size limit is checked as soon as the header is read.
/// </remarks>
public ref struct BananaReader
{
    // Two paths over the same validation: a span and an index when the input is one segment (the common
    // case: a frame from a pipe or an array), a SequenceReader when it spans several.
    private readonly ReadOnlySequence<byte> _data;
    private readonly ReadOnlySpan<byte> _span;
    private readonly byte[]? _array;
    private readonly int _arrayOffset;
    private readonly bool _singleSegment;
    private int _position;
    private SequenceReader<byte> _reader;
    private readonly int _maxItemLength;

    /// <summary>Creates a reader over <paramref name="data"/>.</summary>
    public BananaReader(ReadOnlySequence<byte> data, BananaDialect dialect, BananaLimits? limits = null)
    {
        _data = data;
        Dialect = dialect;
        Limits = limits ?? BananaLimits.Default;
        _maxItemLength = Limits.MaxItemLength;
        _position = 0;
        _array = null;
        _arrayOffset = 0;
        if (data.IsSingleSegment)
        {
            _singleSegment = true;
            _span = data.FirstSpan;
            if (MemoryMarshal.TryGetArray(data.First, out ArraySegment<byte> segment))
            {
                _array = segment.Array;
                _arrayOffset = segment.Offset;
            }
            _reader = default;
        }
        else
        {
            _singleSegment = false;
            _span = default;
            _reader = new SequenceReader<byte>(data);
        }
    }

    /// <summary>The dialect: VOCAB items are errors unless it is <see cref="BananaDialect.Pb"/>.</summary>
    public BananaDialect Dialect { get; }

    /// <summary>The limits in force.</summary>
    public BananaLimits Limits { get; }

    /// <summary>Bytes consumed so far.</summary>
    public readonly long Consumed => _singleSegment ? _position : _reader.Consumed;

    /// <summary>Bytes not consumed yet.</summary>
    public readonly long Remaining => _singleSegment ? _span.Length - _position : _reader.Remaining;

    /// <summary>True when every byte was consumed.</summary>
    public readonly bool End => _singleSegment ? _position == _span.Length : _reader.End;

    /// <summary>The position after the last consumed byte.</summary>
    public readonly SequencePosition Position => _singleSegment ? _data.GetPosition(_position) : _reader.Position;

    /// <summary>True when exactly <c>["dictionary"]</c> (an empty jelly dict) is all that is left.</summary>
    internal readonly bool IsAtEmptyDictionary()
    {
        if (!_singleSegment)
        {
            return false;
        }
        ReadOnlySpan<byte> rest = _span[_position..];
        return Dialect == BananaDialect.Pb
            ? rest.SequenceEqual((ReadOnlySpan<byte>)[0x01, 0x80, 0x05, 0x87])
            : rest.SequenceEqual(s_emptyDictionaryNone);
    }

    private static readonly byte[] s_unicodeTag = [7, BananaTypeByte.String, .. "unicode"u8];

    private static readonly byte[] s_emptyDictionaryNone = [0x01, 0x80, 0x0a, 0x82, .. "dictionary"u8];

    /// <summary>What is left of a message that is one contiguous span (every message the broker handles); false otherwise.</summary>
    internal readonly bool TryGetRest(out ReadOnlySpan<byte> rest)
    {
        rest = _singleSegment ? _span[_position..] : default;
        return _singleSegment;
    }

    /// <summary>Goes back to where <see cref="Consumed"/> was <paramref name="consumed"/> (a typed read that gives way to the generic one).</summary>
    internal void RewindTo(long consumed) => Rewind(Consumed - consumed);

    /// <summary>Skips <paramref name="count"/> bytes that were already validated (used to resume a scan).</summary>
    internal void Advance(long count)
    {
        if (_singleSegment)
        {
            _position += checked((int)count);
        }
        else
        {
            _reader.Advance(count);
        }
    }

    /// <summary>
    /// Consumes a <c>unicode</c> STRING item (<c>07 82 "unicode"</c>) if that is what comes next, in one segment; otherwise
    /// consumes nothing and answers false.
    /// </summary>
    internal bool TryReadUnicodeTag()
    {
        if (!_singleSegment)
        {
            // A message that arrived in pieces: the same test through the sequence reader (it never rewinds).
            return _reader.IsNext(s_unicodeTag, advancePast: true);
        }
        ReadOnlySpan<byte> rest = _span[_position..];
        if (rest.Length >= 9 && rest[0] == 7 && rest[1] == BananaTypeByte.String && rest.Slice(2, 7).SequenceEqual("unicode"u8))
        {
            _position += 9;
            return true;
        }
        return false;
    }

    private void Rewind(long count)
    {
        if (_singleSegment)
        {
            _position -= checked((int)count);
        }
        else
        {
            _reader.Rewind(count);
        }
    }

    /// <summary>Reads one token. Returns false, consuming nothing, when the token is not complete yet.</summary>
    public bool TryReadToken(out BananaToken token)
    {
        if (!_singleSegment)
        {
            return TryReadTokenMultiSegment(out token);
        }
        ReadOnlySpan<byte> span = _span;
        int start = _position;
        // Fast path: a one-byte header (values below 128), which is most items of most messages.
        if ((uint)(start + 1) < (uint)span.Length)
        {
            byte header = span[start];
            byte type = span[start + 1];
            if (header < 0x80)
            {
                switch (type)
                {
                    case BananaTypeByte.List when header <= _maxItemLength:
                        token = BananaToken.ForList(header);
                        _position = start + 2;
                        return true;
                    case BananaTypeByte.Int:
                    case BananaTypeByte.LongInt:
                        token = BananaToken.ForInt(header);
                        _position = start + 2;
                        return true;
                    case BananaTypeByte.Neg:
                    case BananaTypeByte.LongNeg:
                        token = BananaToken.ForInt(-header);
                        _position = start + 2;
                        return true;
                    case BananaTypeByte.String when header <= _maxItemLength && start + 2 + header <= span.Length && _array is not null:
                        token = BananaToken.ForBytes(_array, _arrayOffset + start + 2, header, 0);
                        _position = start + 2 + header;
                        return true;
                    case BananaTypeByte.Vocab when Dialect == BananaDialect.Pb && header is >= 1 and <= BananaVocabulary.MaxIndex:
                        byte[] word = BananaVocabulary.GetWordArray(header);
                        token = BananaToken.ForBytes(word, 0, word.Length, header);
                        _position = start + 2;
                        return true;
                }
            }
        }
        int i = start;
        int limit = Math.Min(span.Length, start + BananaLimits.HeaderLimit + 1);
        while (i < limit && span[i] < 0x80)
        {
            i++;
        }
        if (i == limit)
        {
            if (limit - start > BananaLimits.HeaderLimit)
            {
                throw MoreThanPrefix();
            }
            token = default;
            return false;
        }
        int payloadStart = i + 1;
        if (!TryDecode(span.Slice(start, i - start), span[i], span.Length - payloadStart, out token, out int payloadLength))
        {
            return false;
        }
        if (payloadLength > 0)
        {
            token = token.Kind == BananaTokenKind.Float
                ? BananaToken.ForFloat(BinaryPrimitives.ReadDoubleBigEndian(span.Slice(payloadStart, 8)))
                : _array is not null
                    ? BananaToken.ForBytes(_array, _arrayOffset + payloadStart, payloadLength, 0)
                    : BananaToken.ForBytes(_data.Slice(payloadStart, payloadLength));
        }
        _position = payloadStart + payloadLength;
        return true;
    }

    /// <summary>
    /// Reads one token's header and steps over its payload without materializing it (the frame scanner needs only
    /// the kind and, for lists, the count). Same validation and the same false-on-incomplete rule as
    /// <see cref="TryReadToken"/>; allocation-free, and fast on multi-segment input.
    /// </summary>
    internal bool TrySkipToken(out BananaTokenKind kind, out int count)
    {
        // Fast path: a one-byte header in the current span (most items), stepped over without building a token.
        ReadOnlySpan<byte> current = _singleSegment ? _span[_position..] : _reader.UnreadSpan;
        if (current.Length >= 2 && current[0] < 0x80)
        {
            int header = current[0];
            switch (current[1])
            {
                case BananaTypeByte.List when header <= _maxItemLength:
                    Advance(2);
                    kind = BananaTokenKind.List;
                    count = header;
                    return true;
                case BananaTypeByte.Int or BananaTypeByte.Neg or BananaTypeByte.LongInt or BananaTypeByte.LongNeg:
                    Advance(2);
                    kind = BananaTokenKind.Integer;
                    count = 0;
                    return true;
                case BananaTypeByte.String when header <= _maxItemLength && current.Length >= 2 + header:
                    Advance(2 + header);
                    kind = BananaTokenKind.Bytes;
                    count = 0;
                    return true;
                case BananaTypeByte.Vocab when Dialect == BananaDialect.Pb && header is >= 1 and <= BananaVocabulary.MaxIndex:
                    Advance(2);
                    kind = BananaTokenKind.Bytes;
                    count = 0;
                    return true;
            }
        }
        BananaToken token;
        if (_singleSegment)
        {
            if (!TryReadToken(out token))
            {
                kind = default;
                count = 0;
                return false;
            }
        }
        else
        {
            ReadOnlySpan<byte> span = _reader.UnreadSpan;
            int limit = Math.Min(span.Length, BananaLimits.HeaderLimit + 1);
            int i = 0;
            while (i < limit && span[i] < 0x80)
            {
                i++;
            }
            if (i < limit)
            {
                // Header and type byte lie in this segment: decode them in place, then step over the payload.
                if (!TryDecode(span[..i], span[i], _reader.Remaining - (i + 1), out token, out int payloadLength))
                {
                    kind = default;
                    count = 0;
                    return false;
                }
                _reader.Advance(i + 1 + payloadLength);
            }
            else if (!TryReadTokenMultiSegment(out token))
            {
                kind = default;
                count = 0;
                return false;
            }
        }
        kind = token.Kind;
        count = token.Kind == BananaTokenKind.List ? token.Count : 0;
        return true;
    }

    private bool TryReadTokenMultiSegment(out BananaToken token)
    {
        // Look at up to 66 bytes through a copy: the header may straddle segments.
        long remaining = _reader.Remaining;
        Span<byte> copy = stackalloc byte[BananaLimits.HeaderLimit + 2];
        int n = (int)Math.Min(remaining, copy.Length);
        _reader.TryCopyTo(copy[..n]);
        int limit = Math.Min(n, BananaLimits.HeaderLimit + 1);
        int i = 0;
        while (i < limit && copy[i] < 0x80)
        {
            i++;
        }
        if (i == limit)
        {
            if (limit > BananaLimits.HeaderLimit)
            {
                throw MoreThanPrefix();
            }
            token = default;
            return false;
        }
        int headerSize = i + 1;
        if (!TryDecode(copy[..i], copy[i], remaining - headerSize, out token, out int payloadLength))
        {
            return false;
        }
        _reader.Advance(headerSize);
        if (payloadLength > 0)
        {
            if (token.Kind == BananaTokenKind.Float)
            {
                Span<byte> bytes = stackalloc byte[8];
                _reader.TryCopyTo(bytes);
                token = BananaToken.ForFloat(BinaryPrimitives.ReadDoubleBigEndian(bytes));
            }
            else
            {
                token = BananaToken.ForBytes(_reader.UnreadSequence.Slice(0, payloadLength));
            }
            _reader.Advance(payloadLength);
        }
        return true;
    }

    /// <summary>
    /// Validates a header and its type byte. For STRING and FLOAT it returns the payload length (the caller
    /// reads the payload); false when fewer than that many bytes are <paramref name="available"/>.
    /// </summary>
    private readonly bool TryDecode(scoped ReadOnlySpan<byte> header, byte typeByte, long available, out BananaToken token, out int payloadLength)
    {
        payloadLength = 0;
        bool overflow = false;
        ulong value = 0;
        for (int i = 0; i < header.Length; i++)
        {
            ulong digit = header[i];
            if (digit == 0)
            {
                continue;
            }
            int shift = 7 * i;
            if (shift >= 64 || (shift > 57 && (digit >> (64 - shift)) != 0))
            {
                overflow = true;
                break;
            }
            value |= digit << shift;
        }
        switch (typeByte)
        {
            case BananaTypeByte.List:
                if (overflow || value > (ulong)_maxItemLength)
                {
                    throw ListTooLong(overflow, value, _maxItemLength);
                }
                token = BananaToken.ForList((int)value);
                return true;

            case BananaTypeByte.Int:
            case BananaTypeByte.LongInt:
            case BananaTypeByte.Neg:
            case BananaTypeByte.LongNeg:
            {
                bool negative = typeByte is BananaTypeByte.Neg or BananaTypeByte.LongNeg;
                if (overflow || value > (ulong)long.MaxValue + (negative ? 1UL : 0UL))
                {
                    BigInteger big = ReadBig(header);
                    token = BananaToken.ForBigInt(negative ? -big : big);
                }
                else
                {
                    token = BananaToken.ForInt(negative ? (long)(0UL - value) : (long)value);
                }
                return true;
            }

            case BananaTypeByte.String:
                if (overflow || value > (ulong)_maxItemLength)
                {
                    throw StringTooLong(overflow, value, _maxItemLength);
                }
                if (available < (long)value)
                {
                    token = default;
                    return false;
                }
                payloadLength = (int)value;
                token = BananaToken.ForBytes(ReadOnlySequence<byte>.Empty);
                return true;

            case BananaTypeByte.Float:
                if (available < 8)
                {
                    token = default;
                    return false;
                }
                payloadLength = 8;
                token = BananaToken.ForFloat(0);
                return true;

            case BananaTypeByte.Vocab:
            {
                if (Dialect != BananaDialect.Pb)
                {
                    throw VocabInNoneDialect(overflow, value);
                }
                if (overflow || value is 0 or > BananaVocabulary.MaxIndex)
                {
                    throw UnknownVocab(overflow, value);
                }
                byte[] wordBytes = BananaVocabulary.GetWordArray((int)value);
                token = BananaToken.ForBytes(wordBytes, 0, wordBytes.Length, (int)value);
                return true;
            }

            default:
                throw InvalidTypeByte(typeByte);
        }
    }

    private static BananaException ListTooLong(bool overflow, ulong value, int max) =>
        new($"Security precaution: List too long ({Describe(overflow, value)} elements; the limit is {max}, set by BananaLimits.MaxItemLength).");

    private static BananaException StringTooLong(bool overflow, ulong value, int max) =>
        new($"Security precaution: String too long ({Describe(overflow, value)} bytes; the limit is {max}, set by BananaLimits.MaxItemLength).");

    private static BananaException VocabInNoneDialect(bool overflow, ulong value)
    {
        string word = !overflow && value is >= 1 and <= BananaVocabulary.MaxIndex ? $" ('{BananaVocabulary.GetWordText((int)value)}')" : "";
        return new($"Invalid item for pb protocol: VOCAB {Describe(overflow, value)}{word} received while the dialect is 'none'.");
    }

    private static BananaException UnknownVocab(bool overflow, ulong value) =>
        new($"Unknown VOCAB index {Describe(overflow, value)} (the PB vocabulary has indexes 1 to {BananaVocabulary.MaxIndex}).");

    private static BananaException InvalidTypeByte(byte typeByte) => new($"Invalid Type Byte 0x{typeByte:x2}.");

    private static BananaException MoreThanPrefix() =>
        new("Security precaution: more than 64 bytes of prefix (a banana header is at most 64 bytes).");

    private static string Describe(bool overflow, ulong value) => overflow ? "more than 2**64" : value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static BigInteger ReadBig(ReadOnlySpan<byte> header)
    {
        BigInteger result = BigInteger.Zero;
        for (int i = header.Length - 1; i >= 0; i--)
        {
            result = (result << 7) | header[i];
        }
        return result;
    }

    /// <summary>
    /// Reads one complete item as a tree: <see cref="long"/> or <see cref="System.Numerics.BigInteger"/>,
    /// <see cref="double"/>, <see cref="byte"/>[] and <see cref="List{T}"/> of those. Returns false, consuming
    /// nothing, if the item is incomplete. Nesting deeper than <see cref="BananaLimits.MaxDepth"/> throws.
    /// </summary>
    public bool TryReadTree(out object? value)
    {
        long start = Consumed;
        if (TryReadTreeAt(0, out value))
        {
            return true;
        }
        Rewind(Consumed - start);
        return false;
    }

    private bool TryReadTreeAt(int depth, out object? value)
    {
        if (!TryReadToken(out BananaToken token))
        {
            value = null;
            return false;
        }
        if (token.Kind != BananaTokenKind.List)
        {
            value = token.ToAtom();
            return true;
        }
        if (depth >= Limits.MaxDepth)
        {
            throw DepthExceeded(Limits.MaxDepth);
        }
        int count = token.Count;
        // Every element takes at least one byte, so a count beyond the remaining bytes cannot complete:
        // never reserve memory for elements that have not arrived.
        var list = new List<object?>((int)Math.Min(count, Remaining));
        for (int i = 0; i < count; i++)
        {
            if (!TryReadTreeAt(depth + 1, out object? element))
            {
                value = null;
                return false;
            }
            list.Add(element);
        }
        value = list;
        return true;
    }

    internal static BananaException DepthExceeded(int maxDepth) =>
        new($"Security precaution: lists nested more than {maxDepth} deep (the limit is set by BananaLimits.MaxDepth).");
}
