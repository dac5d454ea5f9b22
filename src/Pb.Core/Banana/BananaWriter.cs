using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Pb.Banana;

/// <summary>
/// Writes banana items to an <see cref="IBufferWriter{T}"/>. A ref struct that caches the span it was
/// given and advances the output only on <see cref="Flush"/> (or when it needs a new span), so small items
/// cost a few stores. Call <see cref="Flush"/> when done.
/// </summary>
/// <remarks>
/// Integer rules (PB-WIRE.md 1.3): 0..2**31-1 is INT, -2**31..-1 is NEG, larger magnitudes up to 2**448-1 are
/// LONGINT/LONGNEG, anything larger is refused. In dialect <c>pb</c> every byte string equal to a vocabulary
/// word is written as VOCAB.
/// </remarks>
public ref struct BananaWriter
{
    private const int MinBufferSize = 256;
    private const int MaxShortText = 42; // 42 UTF-16 units are at most 126 UTF-8 bytes: a one-byte header
    private static readonly BigInteger s_intBound = BigInteger.Pow(2, 7 * BananaLimits.HeaderLimit);

    private readonly IBufferWriter<byte> _output;
    private readonly int _maxItemLength;
    private Span<byte> _span;
    private int _buffered;

    /// <summary>Creates a writer.</summary>
    /// <param name="output">Where the bytes go.</param>
    /// <param name="dialect">The dialect: in <see cref="BananaDialect.Pb"/> vocabulary words are abbreviated.</param>
    /// <param name="limits">Send-side limits (the same per-item size limit as receiving); default <see cref="BananaLimits.Default"/>.</param>
    public BananaWriter(IBufferWriter<byte> output, BananaDialect dialect, BananaLimits? limits = null)
    {
        _output = output;
        Dialect = dialect;
        Limits = limits ?? BananaLimits.Default;
        _maxItemLength = Limits.MaxItemLength;
        _span = default;
        _buffered = 0;
    }

    /// <summary>The dialect in use.</summary>
    public BananaDialect Dialect { get; }

    /// <summary>The limits in force (the per-item size limit applies when writing; the depth limit guides jelly).</summary>
    public BananaLimits Limits { get; }

    /// <summary>Advances the output past everything written so far.</summary>
    public void Flush()
    {
        if (_buffered > 0)
        {
            _output.Advance(_buffered);
            _buffered = 0;
        }
        _span = default;
    }

    /// <summary>Writes a LIST header for <paramref name="count"/> elements; write the elements next.</summary>
    public void WriteListHeader(int count)
    {
        if ((uint)count > (uint)_maxItemLength)
        {
            throw new BananaException($"list/tuple is too long to send ({count}); the limit is {_maxItemLength} elements (BananaLimits.MaxItemLength).");
        }
        WriteHeader((ulong)count, BananaTypeByte.List);
    }

    /// <summary>Writes an integer as INT or NEG (LONGNEG for values below -2**31, LONGINT above 2**31-1).</summary>
    public void WriteInt(long value)
    {
        if (value >= 0)
        {
            WriteHeader((ulong)value, value <= int.MaxValue ? BananaTypeByte.Int : BananaTypeByte.LongInt);
        }
        else
        {
            ulong magnitude = (ulong)(-(value + 1)) + 1; // safe for long.MinValue
            WriteHeader(magnitude, value >= int.MinValue ? BananaTypeByte.Neg : BananaTypeByte.LongNeg);
        }
    }

    /// <summary>Writes an unsigned integer.</summary>
    public void WriteInt(ulong value) => WriteHeader(value, value <= int.MaxValue ? BananaTypeByte.Int : BananaTypeByte.LongInt);

    /// <summary>Writes an integer of any size below 2**448 in magnitude.</summary>
    public void WriteInt(BigInteger value)
    {
        if (value >= long.MinValue && value <= long.MaxValue)
        {
            WriteInt((long)value);
            return;
        }
        bool negative = value.Sign < 0;
        BigInteger magnitude = BigInteger.Abs(value);
        if (magnitude >= s_intBound)
        {
            throw new BananaException($"int is too large to send ({value}); banana integers stay below 2**448 in magnitude.");
        }
        Span<byte> digits = stackalloc byte[BananaLimits.HeaderLimit + 1];
        int n = 0;
        while (!magnitude.IsZero)
        {
            digits[n++] = (byte)(int)(magnitude & 0x7F);
            magnitude >>= 7;
        }
        digits[n++] = negative ? BananaTypeByte.LongNeg : BananaTypeByte.LongInt;
        WriteRaw(digits[..n]);
    }

    /// <summary>
    /// Writes a FLOAT: type byte and 8 big-endian bytes, no header (as Twisted writes it). The bits go out
    /// unchanged, NaN payloads and signs included, as Python's struct sends them. Note that .NET's
    /// <see cref="double.NaN"/> has its sign bit set (<c>ff f8 00 ...</c>, the NaN that Python's own arithmetic
    /// such as <c>inf - inf</c> makes) while Python's <c>float("nan")</c> is <c>7f f8 00 ...</c>: both read as nan.
    /// </summary>
    public void WriteFloat(double value)
    {
        Span<byte> span = GetSpan(9);
        span[0] = BananaTypeByte.Float;
        BinaryPrimitives.WriteDoubleBigEndian(span[1..], value);
        _buffered += 9;
    }

    /// <summary>Writes a byte string (as VOCAB when it is a vocabulary word and the dialect is pb).</summary>
    public void WriteBytes(scoped ReadOnlySpan<byte> value)
    {
        if (Dialect == BananaDialect.Pb)
        {
            int index = BananaVocabulary.IndexOf(value);
            if (index != 0)
            {
                WriteHeader((ulong)index, BananaTypeByte.Vocab);
                return;
            }
        }
        if (value.Length > _maxItemLength)
        {
            throw TooLong(value.Length);
        }
        WriteHeader((ulong)value.Length, BananaTypeByte.String);
        WriteRaw(value);
    }

    /// <summary>Writes a byte string (as VOCAB when it is a vocabulary word and the dialect is pb).</summary>
    public void WriteBytes(in ReadOnlySequence<byte> value)
    {
        if (value.IsSingleSegment)
        {
            WriteBytes(value.FirstSpan);
            return;
        }
        if (value.Length > _maxItemLength)
        {
            throw TooLong(value.Length);
        }
        WriteHeader((ulong)value.Length, BananaTypeByte.String);
        foreach (ReadOnlyMemory<byte> segment in value)
        {
            WriteRaw(segment.Span);
        }
    }

    /// <summary>
    /// Writes the UTF-8 encoding of <paramref name="text"/> as one byte string, without allocating. (This is
    /// the payload of jelly's <c>["unicode", ...]</c>; banana itself has no text type.)
    /// </summary>
    public void WriteUtf8(scoped ReadOnlySpan<char> text)
    {
        if (text.Length <= MaxShortText)
        {
            // One pass for short text (most of it): encoded straight after room for a one-byte header, which any
            // length up to 127 takes, then the header written in front, or the whole replaced by a vocabulary word.
            Span<byte> span = GetSpan(2 + MaxShortText * 3);
            System.Text.Unicode.Utf8.FromUtf16(text, span[2..], out _, out int written, replaceInvalidSequences: true);
            if (written <= BananaVocabulary.MaxWordLength && Dialect == BananaDialect.Pb
                && BananaVocabulary.IndexOf(span.Slice(2, written)) is var index and not 0)
            {
                span[0] = (byte)index; // every index is below 128: one header byte
                span[1] = BananaTypeByte.Vocab;
                _buffered += 2;
                return;
            }
            if (written > _maxItemLength)
            {
                throw TooLong(written);
            }
            span[0] = (byte)written;
            span[1] = BananaTypeByte.String;
            _buffered += 2 + written;
            return;
        }
        int length = Encoding.UTF8.GetByteCount(text);
        if (length > _maxItemLength)
        {
            throw TooLong(length);
        }
        WriteHeader((ulong)length, BananaTypeByte.String);
        if (length <= 64 * 1024)
        {
            Span<byte> span = GetSpan(length);
            Encoding.UTF8.GetBytes(text, span);
            _buffered += length;
        }
        else
        {
            Flush();
            int written = Encoding.UTF8.GetBytes(text, _output.GetSpan(length));
            _output.Advance(written);
        }
    }

    /// <summary>Writes pre-encoded bytes verbatim (a cached constant item, for example).</summary>
    public void WriteRaw(scoped ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length <= MinBufferSize * 16)
        {
            bytes.CopyTo(GetSpan(bytes.Length));
            _buffered += bytes.Length;
            return;
        }
        Flush();
        while (!bytes.IsEmpty)
        {
            Span<byte> span = _output.GetSpan(Math.Min(bytes.Length, 64 * 1024));
            int n = Math.Min(span.Length, bytes.Length);
            bytes[..n].CopyTo(span);
            _output.Advance(n);
            bytes = bytes[n..];
        }
    }

    /// <summary>
    /// Writes a banana tree: lists (<see cref="System.Collections.IList"/>) of integers (any .NET integer type or
    /// <see cref="BigInteger"/>; <see cref="bool"/> as 0/1 like Python), floats, and byte strings
    /// (<see cref="byte"/>[] or <see cref="ReadOnlyMemory{T}"/>). Anything else, text and null included, is
    /// refused with <see cref="BananaException"/>, as Twisted refuses it: jelly builds those out of lists.
    /// </summary>
    public void WriteTree(object? value)
    {
        switch (value)
        {
            case byte[] bytes: WriteBytes(bytes); break;
            case ReadOnlyMemory<byte> memory: WriteBytes(memory.Span); break;
            case long l: WriteInt(l); break;
            case int i: WriteInt(i); break;
            case double d: WriteFloat(d); break;
            case float f: WriteFloat(f); break;
            case BigInteger big: WriteInt(big); break;
            case ulong ul: WriteInt(ul); break;
            case uint ui: WriteInt(ui); break;
            case short s: WriteInt(s); break;
            case ushort us: WriteInt(us); break;
            case byte b: WriteInt(b); break;
            case sbyte sb: WriteInt(sb); break;
            case bool flag: WriteInt(flag ? 1 : 0); break;
            case System.Collections.IList list:
                WriteListHeader(list.Count);
                foreach (object? element in list)
                {
                    WriteTree(element);
                }
                break;
            default:
                throw new BananaException($"Banana cannot send {(value is null ? "null" : value.GetType().FullName + " objects")}: banana carries only lists, integers, floats and byte strings.");
        }
    }

    /// <summary>Writes <paramref name="value"/> as a base-128 header (minimal, <c>00</c> for 0) and a type byte.</summary>
    internal void WriteHeader(ulong value, byte typeByte)
    {
        Span<byte> span = GetSpan(11);
        int i = 0;
        do
        {
            span[i++] = (byte)(value & 0x7F);
            value >>= 7;
        }
        while (value != 0);
        span[i++] = typeByte;
        _buffered += i;
    }

    private readonly BananaException TooLong(long length) =>
        new($"byte string is too long to send ({length}); the limit is {_maxItemLength} bytes (BananaLimits.MaxItemLength).");

    private Span<byte> GetSpan(int size)
    {
        if (_span.Length - _buffered < size)
        {
            if (_buffered > 0)
            {
                _output.Advance(_buffered);
                _buffered = 0;
            }
            _span = _output.GetSpan(Math.Max(size, MinBufferSize));
        }
        return _span[_buffered..];
    }
}
