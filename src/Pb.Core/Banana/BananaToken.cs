using System.Buffers;
using System.Numerics;

namespace Pb.Banana;

/// <summary>What a <see cref="BananaToken"/> holds.</summary>
public enum BananaTokenKind : byte
{
    /// <summary>A LIST header: <see cref="BananaToken.Count"/> elements follow.</summary>
    List,
    /// <summary>INT, NEG, LONGINT or LONGNEG: see <see cref="BananaToken.Int64"/> or <see cref="BananaToken.BigInteger"/>.</summary>
    Integer,
    /// <summary>STRING or VOCAB: see <see cref="BananaToken.Bytes"/>.</summary>
    Bytes,
    /// <summary>FLOAT: see <see cref="BananaToken.Float"/>.</summary>
    Float,
}

/// <summary>One banana item header (and its payload, for atoms) as read by <see cref="BananaReader"/>.</summary>
/// <remarks>
/// Kept to 24 bytes because a reader hands out one per item: <c>_value</c> is the integer, the count, the
/// double's bits, or a byte string's offset and length; <c>_object</c> is the array holding a byte string, a
/// boxed <see cref="System.Numerics.BigInteger"/>, or (rarely) a boxed sequence spanning segments.
/// </remarks>
public readonly struct BananaToken
{
    private readonly object? _object;
    private readonly long _value;
    private readonly BananaTokenKind _kind;
    private readonly byte _vocabIndex;

    private BananaToken(BananaTokenKind kind, long value, object? obj, byte vocabIndex)
    {
        _kind = kind;
        _value = value;
        _object = obj;
        _vocabIndex = vocabIndex;
    }

    /// <summary>The kind of item.</summary>
    public BananaTokenKind Kind => _kind;

    /// <summary>For <see cref="BananaTokenKind.List"/>: the element count.</summary>
    public int Count => (int)_value;

    /// <summary>For <see cref="BananaTokenKind.Integer"/>: true when the value does not fit in a <see cref="long"/>.</summary>
    public bool IsBigInteger => _kind == BananaTokenKind.Integer && _object is not null;

    /// <summary>For <see cref="BananaTokenKind.Integer"/> that fits in 64 bits: the value.</summary>
    public long Int64 => _value;

    /// <summary>For <see cref="BananaTokenKind.Integer"/>: the value at any size.</summary>
    public BigInteger BigInteger => _object is BigInteger b ? b : new BigInteger(_value);

    /// <summary>For <see cref="BananaTokenKind.Float"/>: the value.</summary>
    public double Float => BitConverter.Int64BitsToDouble(_value);

    /// <summary>For a VOCAB item: its index (1..31); 0 for everything else.</summary>
    public int VocabIndex => _vocabIndex;

    /// <summary>For <see cref="BananaTokenKind.Bytes"/>: the bytes (a slice of the input, or the vocabulary word).</summary>
    public ReadOnlySequence<byte> Bytes => _object switch
    {
        byte[] array => new ReadOnlySequence<byte>(array, (int)(_value >> 32), (int)_value),
        ReadOnlySequence<byte> sequence => sequence,
        _ => ReadOnlySequence<byte>.Empty,
    };

    /// <summary>For <see cref="BananaTokenKind.Bytes"/> held in one piece (almost always): the bytes without copying.</summary>
    public bool TryGetSpan(out ReadOnlySpan<byte> span)
    {
        switch (_object)
        {
            case byte[] array:
                span = new ReadOnlySpan<byte>(array, (int)(_value >> 32), (int)_value);
                return true;
            case ReadOnlySequence<byte> { IsSingleSegment: true } sequence:
                span = sequence.FirstSpan;
                return true;
            case null:
                span = default;
                return _kind == BananaTokenKind.Bytes;
            default:
                span = default;
                return false;
        }
    }

    /// <summary>For <see cref="BananaTokenKind.Bytes"/>: a copy of the bytes.</summary>
    public byte[] ToArray() => TryGetSpan(out ReadOnlySpan<byte> span) ? span.ToArray() : Bytes.ToArray();

    internal static BananaToken ForList(int count) => new(BananaTokenKind.List, count, null, 0);
    internal static BananaToken ForInt(long value) => new(BananaTokenKind.Integer, value, null, 0);
    internal static BananaToken ForBigInt(BigInteger value) => new(BananaTokenKind.Integer, 0, value, 0);
    internal static BananaToken ForFloat(double value) => new(BananaTokenKind.Float, BitConverter.DoubleToInt64Bits(value), null, 0);
    internal static BananaToken ForBytes(byte[] array, int offset, int length, int vocabIndex) =>
        new(BananaTokenKind.Bytes, ((long)offset << 32) | (uint)length, array, (byte)vocabIndex);
    internal static BananaToken ForBytes(ReadOnlySequence<byte> sequence) =>
        sequence.IsEmpty ? new(BananaTokenKind.Bytes, 0, null, 0) : new(BananaTokenKind.Bytes, 0, sequence, 0);

    /// <summary>Boxes the atom as a tree value: <see cref="long"/>, <see cref="System.Numerics.BigInteger"/>, <see cref="double"/> or <see cref="byte"/>[].</summary>
    internal object ToAtom() => Kind switch
    {
        BananaTokenKind.Integer => _object ?? (object)_value,
        BananaTokenKind.Float => Float,
        BananaTokenKind.Bytes => ToArray(),
        _ => throw new InvalidOperationException("A list header is not an atom."),
    };
}
