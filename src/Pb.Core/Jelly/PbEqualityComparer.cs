using System.Numerics;
using System.Runtime.InteropServices;

namespace Pb.Jelly;

/// <summary>
/// Equality and hashing with Python's semantics for the values jelly produces, so that dictionaries and
/// sets keyed by them behave as they do in Twisted: numbers compare by value across types
/// (<c>1 == 1.0 == True == 1m</c>, and so do their hashes), byte strings by content, tuples and frozensets
/// structurally, text ordinally. Other objects use their own <see cref="object.Equals(object?)"/>.
/// </summary>
/// <remarks>
/// Hash codes of numbers and byte strings are keyed with a per-process random seed (Marvin, the hash .NET uses
/// for strings), as MessagePack's <c>MessagePackSecurity.UntrustedData</c> does: a peer cannot choose dictionary
/// keys that all collide (hash flooding), which would make each insert compare against every key before it.
/// Hash codes therefore differ from one process to the next.
/// </remarks>
public sealed class PbEqualityComparer : IEqualityComparer<object?>
{
    /// <summary>The one instance.</summary>
    public static PbEqualityComparer Instance { get; } = new();

    private PbEqualityComparer() { }

    /// <inheritdoc/>
    public new bool Equals(object? x, object? y)
    {
        if (ReferenceEquals(x, y))
        {
            return true;
        }
        if (x is null || y is null)
        {
            return false;
        }
        switch (x)
        {
            case string sx:
                return y is string sy && string.Equals(sx, sy, StringComparison.Ordinal);
            case byte[] bx:
                return y is byte[] by && bx.AsSpan().SequenceEqual(by);
            case PbTuple tx:
                return y is PbTuple ty && tx.Equals(ty);
            case PbFrozenSet fx:
                return y is PbFrozenSet fy && fx.Equals(fy);
        }
        if (IsNumber(x) && IsNumber(y))
        {
            return NumbersEqual(x, y);
        }
        return x.Equals(y);
    }

    /// <inheritdoc/>
    public int GetHashCode(object? obj)
    {
        switch (obj)
        {
            case null: return 0;
            case string s: return string.GetHashCode(s, StringComparison.Ordinal);
            case long l: return HashInt64(l);
            case int i: return HashInt64(i);
            case byte[] b: return HashBytes(b);
            case bool flag: return HashInt64(flag ? 1 : 0);
            case double d: return HashDouble(d);
            case BigInteger big: return HashBig(big);
            case decimal m: return HashDecimal(m);
            case PbDecimal pd: return pd.GetHashCode();
            default:
                if (TryGetInt64(obj, out long v))
                {
                    return HashInt64(v);
                }
                if (obj is ulong ul)
                {
                    return HashBig(ul);
                }
                return IsNumber(obj) ? HashDouble(Convert.ToDouble(obj, System.Globalization.CultureInfo.InvariantCulture)) : obj.GetHashCode();
        }
    }

    /// <summary>The seeded hash of an integer; every number equal to <paramref name="value"/> hashes the same.</summary>
    internal static int HashInt64(long value)
    {
        // Marvin over the 8 bytes, keyed per process: string.GetHashCode(ReadOnlySpan<char>) is its public face.
        ReadOnlySpan<long> one = new(in value);
        return string.GetHashCode(MemoryMarshal.Cast<long, char>(one));
    }

    /// <summary>The seeded hash of an integer of any size (values in 64-bit range hash as <see cref="HashInt64"/>).</summary>
    internal static int HashBig(BigInteger value)
    {
        if (value >= long.MinValue && value <= long.MaxValue)
        {
            return HashInt64((long)value);
        }
        int count = value.GetByteCount();
        byte[]? rented = null;
        Span<byte> bytes = count <= 128 ? stackalloc byte[128] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(count));
        value.TryWriteBytes(bytes, out int written);
        int hash = HashSpan(bytes[..written], 0x5bd1e995);
        if (rented is not null)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        }
        return hash;
    }

    /// <summary>The seeded hash of a double: integral doubles hash as the integer they equal, as in Python.</summary>
    internal static int HashDouble(double d)
    {
        if (double.IsNaN(d))
        {
            return 0;
        }
        if (double.IsFinite(d) && d == Math.Floor(d))
        {
            return d >= long.MinValue && d < 9.2233720368547758E18 ? HashInt64((long)d) : HashBig(new BigInteger(d));
        }
        return HashInt64(BitConverter.DoubleToInt64Bits(d) ^ unchecked((long)0x9E3779B97F4A7C15));
    }

    /// <summary>The seeded hash of a decimal: integral ones hash as the integer, others as the nearest double.</summary>
    internal static int HashDecimal(decimal m)
    {
        if (m == decimal.Truncate(m))
        {
            return m >= long.MinValue && m <= long.MaxValue ? HashInt64((long)m) : HashBig(new BigInteger(m));
        }
        return HashDouble((double)m);
    }

    private static int HashBytes(byte[] b) => HashSpan(b, 0);

    private static int HashSpan(ReadOnlySpan<byte> bytes, int salt)
    {
        int even = bytes.Length & ~1;
        int hash = string.GetHashCode(MemoryMarshal.Cast<byte, char>(bytes[..even]));
        // Fold in the odd byte, the length's parity and the salt, again through Marvin.
        Span<int> tail = [hash, (bytes.Length & 1) == 1 ? bytes[^1] | 0x100 : 0, salt];
        return string.GetHashCode(MemoryMarshal.Cast<int, char>(tail));
    }

    internal static bool IsNumber(object o) => o is long or int or double or bool or BigInteger or decimal or float or short or byte or sbyte or ushort or uint or ulong or PbDecimal;

    /// <summary>The value of an integer-valued number of any numeric type, when it fits a long; no allocation.</summary>
    internal static bool TryGetInt64(object o, out long value)
    {
        switch (o)
        {
            case long l: value = l; return true;
            case int i: value = i; return true;
            case bool b: value = b ? 1 : 0; return true;
            case short s: value = s; return true;
            case byte by: value = by; return true;
            case sbyte sb: value = sb; return true;
            case ushort us: value = us; return true;
            case uint ui: value = ui; return true;
            case ulong ul when ul <= long.MaxValue: value = (long)ul; return true;
            case BigInteger big when big >= long.MinValue && big <= long.MaxValue: value = (long)big; return true;
            case double d when d == Math.Floor(d) && d >= long.MinValue && d < 9.2233720368547758E18: value = (long)d; return true;
            case float f when f == MathF.Floor(f) && f >= long.MinValue && f < 9.2233720368547758E18f: value = (long)f; return true;
            case decimal m when m == decimal.Truncate(m) && m >= long.MinValue && m <= long.MaxValue: value = (long)m; return true;
            case PbDecimal pd when pd.TryGetInt64(out long pv): value = pv; return true;
            default: value = 0; return false;
        }
    }

    private static bool NumbersEqual(object x, object y)
    {
        bool xi = TryGetInt64(x, out long lx), yi = TryGetInt64(y, out long ly);
        if (xi && yi)
        {
            return lx == ly;
        }
        if (x is PbDecimal px)
        {
            return px.EqualsNumber(y);
        }
        if (y is PbDecimal py)
        {
            return py.EqualsNumber(x);
        }
        if (x is double or float || y is double or float)
        {
            double dx = ToDouble(x), dy = ToDouble(y);
            if (double.IsFinite(dx) && double.IsFinite(dy) && dx == Math.Floor(dx) && dy == Math.Floor(dy))
            {
                // Integral values beyond 64 bits: compare exactly, as Python does.
                return ToExactBig(x) == ToExactBig(y);
            }
            return dx == dy;
        }
        if (xi != yi)
        {
            // One is an integer in 64-bit range, the other an integer beyond it or a non-integral decimal.
            return false;
        }
        if (x is decimal || y is decimal)
        {
            try
            {
                return ToDecimal(x) == ToDecimal(y);
            }
            catch (OverflowException)
            {
                return false;
            }
        }
        return ToBig(x) == ToBig(y);
    }

    private static double ToDouble(object o) => o switch
    {
        bool b => b ? 1 : 0,
        BigInteger big => (double)big,
        _ => Convert.ToDouble(o, System.Globalization.CultureInfo.InvariantCulture),
    };

    private static BigInteger ToExactBig(object o) => o switch
    {
        double d => new BigInteger(d),
        float f => new BigInteger(f),
        decimal m => new BigInteger(m),
        _ => ToBig(o),
    };

    private static decimal ToDecimal(object o) => o switch
    {
        bool b => b ? 1 : 0,
        BigInteger big => (decimal)big,
        _ => Convert.ToDecimal(o, System.Globalization.CultureInfo.InvariantCulture),
    };

    private static BigInteger ToBig(object o) => o switch
    {
        long l => l,
        int i => i,
        bool b => b ? BigInteger.One : BigInteger.Zero,
        BigInteger big => big,
        ulong ul => ul,
        _ => Convert.ToInt64(o, System.Globalization.CultureInfo.InvariantCulture),
    };
}
