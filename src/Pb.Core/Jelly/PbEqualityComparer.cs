using System.Numerics;

namespace Pb.Jelly;

/// <summary>
/// Equality and hashing with Python's semantics for the values jelly produces, so that dictionaries and
/// sets keyed by them behave as they do in Twisted: numbers compare by value across types
/// (<c>1 == 1.0 == True</c>, and so do their hashes), byte strings by content, tuples and frozensets
/// structurally, text ordinally. Other objects use their own <see cref="object.Equals(object?)"/>.
/// </summary>
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
            case long l: return l.GetHashCode();
            case int i: return ((long)i).GetHashCode();
            case byte[] b:
            {
                var hash = new HashCode();
                hash.AddBytes(b);
                return hash.ToHashCode();
            }
            case bool flag: return (flag ? 1L : 0L).GetHashCode();
            case double d: return HashDouble(d);
            case BigInteger big: return big >= long.MinValue && big <= long.MaxValue ? ((long)big).GetHashCode() : big.GetHashCode();
            case decimal m: return m == decimal.Truncate(m) && m >= long.MinValue && m <= long.MaxValue ? ((long)m).GetHashCode() : HashDouble((double)m);
            default:
                return IsNumber(obj) ? HashDouble(Convert.ToDouble(obj, System.Globalization.CultureInfo.InvariantCulture)) : obj.GetHashCode();
        }
    }

    private static int HashDouble(double d)
    {
        // Integral doubles hash like the integer they equal, as in Python.
        if (d == Math.Floor(d) && d >= long.MinValue && d < 9.2233720368547758E18)
        {
            return ((long)d).GetHashCode();
        }
        return double.IsNaN(d) ? 0 : d.GetHashCode();
    }

    internal static bool IsNumber(object o) => o is long or int or double or bool or BigInteger or decimal or float or short or byte or sbyte or ushort or uint or ulong;

    private static bool NumbersEqual(object x, object y)
    {
        if (x is double or float || y is double or float)
        {
            double dx = ToDouble(x), dy = ToDouble(y);
            // Exact comparison with big integers: compare as BigInteger when the double is integral.
            if (x is BigInteger bx && double.IsFinite(dy) && dy == Math.Floor(dy))
            {
                return bx == new BigInteger(dy);
            }
            if (y is BigInteger by && double.IsFinite(dx) && dx == Math.Floor(dx))
            {
                return by == new BigInteger(dx);
            }
            return dx == dy;
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
