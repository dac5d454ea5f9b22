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
public readonly struct BananaToken
{
    private readonly long _int64;
    private readonly double _float;
    private readonly object? _big;

    private BananaToken(BananaTokenKind kind, long int64, double f, object? big, ReadOnlySequence<byte> bytes, int vocabIndex)
    {
        Kind = kind;
        _int64 = int64;
        _float = f;
        _big = big;
        Bytes = bytes;
        VocabIndex = vocabIndex;
    }

    /// <summary>The kind of item.</summary>
    public BananaTokenKind Kind { get; }

    /// <summary>For <see cref="BananaTokenKind.List"/>: the element count.</summary>
    public int Count => (int)_int64;

    /// <summary>For <see cref="BananaTokenKind.Integer"/>: true when the value does not fit in a <see cref="long"/>.</summary>
    public bool IsBigInteger => _big is not null;

    /// <summary>For <see cref="BananaTokenKind.Integer"/> that fits in 64 bits: the value.</summary>
    public long Int64 => _int64;

    /// <summary>For <see cref="BananaTokenKind.Integer"/>: the value at any size.</summary>
    public BigInteger BigInteger => _big is BigInteger b ? b : new BigInteger(_int64);

    /// <summary>For <see cref="BananaTokenKind.Float"/>: the value.</summary>
    public double Float => _float;

    /// <summary>For <see cref="BananaTokenKind.Bytes"/>: the bytes (a slice of the input, or the vocabulary word).</summary>
    public ReadOnlySequence<byte> Bytes { get; }

    /// <summary>For a VOCAB item: its index (1..31); 0 for everything else.</summary>
    public int VocabIndex { get; }

    internal static BananaToken ForList(int count) => new(BananaTokenKind.List, count, 0, null, default, 0);
    internal static BananaToken ForInt(long value) => new(BananaTokenKind.Integer, value, 0, null, default, 0);
    internal static BananaToken ForBigInt(BigInteger value) => new(BananaTokenKind.Integer, 0, 0, value, default, 0);
    internal static BananaToken ForFloat(double value) => new(BananaTokenKind.Float, 0, value, null, default, 0);
    internal static BananaToken ForBytes(ReadOnlySequence<byte> bytes, int vocabIndex) => new(BananaTokenKind.Bytes, 0, 0, null, bytes, vocabIndex);

    /// <summary>Boxes the atom as a tree value: <see cref="long"/>, <see cref="System.Numerics.BigInteger"/>, <see cref="double"/> or <see cref="byte"/>[].</summary>
    internal object ToAtom() => Kind switch
    {
        BananaTokenKind.Integer => _big ?? (object)_int64,
        BananaTokenKind.Float => _float,
        BananaTokenKind.Bytes => Bytes.ToArray(),
        _ => throw new InvalidOperationException("A list header is not an atom."),
    };
}
