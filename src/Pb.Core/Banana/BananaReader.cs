using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

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
    private SequenceReader<byte> _reader;
    private readonly int _maxItemLength;

    /// <summary>Creates a reader over <paramref name="data"/>.</summary>
    public BananaReader(ReadOnlySequence<byte> data, BananaDialect dialect, BananaLimits? limits = null)
    {
        _reader = new SequenceReader<byte>(data);
        Dialect = dialect;
        Limits = limits ?? BananaLimits.Default;
        _maxItemLength = Limits.MaxItemLength;
    }

    /// <summary>The dialect: VOCAB items are errors unless it is <see cref="BananaDialect.Pb"/>.</summary>
    public BananaDialect Dialect { get; }

    /// <summary>The limits in force.</summary>
    public BananaLimits Limits { get; }

    /// <summary>Bytes consumed so far.</summary>
    public readonly long Consumed => _reader.Consumed;

    /// <summary>Bytes not consumed yet.</summary>
    public readonly long Remaining => _reader.Remaining;

    /// <summary>True when every byte was consumed.</summary>
    public readonly bool End => _reader.End;

    /// <summary>The position after the last consumed byte.</summary>
    public readonly SequencePosition Position => _reader.Position;

    /// <summary>Skips <paramref name="count"/> bytes that were already validated (used to resume a scan).</summary>
    internal void Advance(long count) => _reader.Advance(count);

    /// <summary>Reads one token. Returns false, consuming nothing, when the token is not complete yet.</summary>
    public bool TryReadToken(out BananaToken token)
    {
        ReadOnlySpan<byte> span = _reader.UnreadSpan;
        int limit = Math.Min(span.Length, BananaLimits.HeaderLimit + 1);
        int typeIndex = span[..limit].IndexOfAnyInRange((byte)0x80, (byte)0xFF);
        if (typeIndex < 0)
        {
            if (limit > BananaLimits.HeaderLimit)
            {
                throw new BananaException("Security precaution: more than 64 bytes of prefix (a banana header is at most 64 bytes).");
            }
            return TryReadTokenSlow(out token);
        }
        return TryFinishToken(span[..typeIndex], span[typeIndex], out token);
    }

    private bool TryReadTokenSlow(out BananaToken token)
    {
        // The header straddles segments (or the input ends): look at up to 66 bytes through a copy.
        long remaining = _reader.Remaining;
        Span<byte> copy = stackalloc byte[BananaLimits.HeaderLimit + 2];
        int n = (int)Math.Min(remaining, copy.Length);
        _reader.TryCopyTo(copy[..n]);
        int typeIndex = copy[..Math.Min(n, BananaLimits.HeaderLimit + 1)].IndexOfAnyInRange((byte)0x80, (byte)0xFF);
        if (typeIndex < 0)
        {
            if (n > BananaLimits.HeaderLimit)
            {
                throw new BananaException("Security precaution: more than 64 bytes of prefix (a banana header is at most 64 bytes).");
            }
            token = default;
            return false;
        }
        return TryFinishToken(copy[..typeIndex], copy[typeIndex], out token);
    }

    private bool TryFinishToken(scoped ReadOnlySpan<byte> header, byte typeByte, out BananaToken token)
    {
        if (header.Length > BananaLimits.HeaderLimit)
        {
            throw new BananaException("Security precaution: longer than 64 bytes worth of prefix (a banana header is at most 64 bytes).");
        }
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
        int headerSize = header.Length + 1;
        switch (typeByte)
        {
            case BananaTypeByte.List:
                if (overflow || value > (ulong)_maxItemLength)
                {
                    throw new BananaException($"Security precaution: List too long ({Describe(overflow, value)} elements; the limit is {_maxItemLength}, set by BananaLimits.MaxItemLength).");
                }
                _reader.Advance(headerSize);
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
                _reader.Advance(headerSize);
                return true;
            }

            case BananaTypeByte.String:
            {
                if (overflow || value > (ulong)_maxItemLength)
                {
                    throw new BananaException($"Security precaution: String too long ({Describe(overflow, value)} bytes; the limit is {_maxItemLength}, set by BananaLimits.MaxItemLength).");
                }
                long length = (long)value;
                if (_reader.Remaining < headerSize + length)
                {
                    token = default;
                    return false;
                }
                _reader.Advance(headerSize);
                ReadOnlySequence<byte> payload = _reader.UnreadSequence.Slice(0, length);
                _reader.Advance(length);
                token = BananaToken.ForBytes(payload, 0);
                return true;
            }

            case BananaTypeByte.Float:
            {
                if (_reader.Remaining < headerSize + 8)
                {
                    token = default;
                    return false;
                }
                _reader.Advance(headerSize);
                Span<byte> bytes = stackalloc byte[8];
                _reader.TryCopyTo(bytes);
                _reader.Advance(8);
                token = BananaToken.ForFloat(BinaryPrimitives.ReadDoubleBigEndian(bytes));
                return true;
            }

            case BananaTypeByte.Vocab:
            {
                if (Dialect != BananaDialect.Pb)
                {
                    string word = !overflow && BananaVocabulary.TryGetWord((long)Math.Min(value, long.MaxValue), out _) ? $" ('{BananaVocabulary.GetWordText((int)value)}')" : "";
                    throw new BananaException($"Invalid item for pb protocol: VOCAB {Describe(overflow, value)}{word} received while the dialect is 'none'.");
                }
                if (overflow || !BananaVocabulary.TryGetWord((long)Math.Min(value, long.MaxValue), out _))
                {
                    throw new BananaException($"Unknown VOCAB index {Describe(overflow, value)} (the PB vocabulary has indexes 1 to {BananaVocabulary.MaxIndex}).");
                }
                _reader.Advance(headerSize);
                token = BananaToken.ForBytes(new ReadOnlySequence<byte>(BananaVocabulary.GetWordArray((int)value)), (int)value);
                return true;
            }

            default:
                throw new BananaException($"Invalid Type Byte 0x{typeByte:x2}.");
        }
    }

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
        long start = _reader.Consumed;
        if (TryReadTreeAt(0, out value))
        {
            return true;
        }
        _reader.Rewind(_reader.Consumed - start);
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
        var list = new List<object?>((int)Math.Min(count, _reader.Remaining));
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
