using System.Globalization;
using System.Numerics;

namespace Pb.Jelly;

/// <summary>
/// A Python <c>decimal.Decimal</c> that <see cref="decimal"/> cannot hold: <c>Coefficient × 10^Exponent</c> with a
/// coefficient of any size and a 64-bit exponent, such as <c>Decimal('1E+400')</c> or 60 digits after the point.
/// The unjellier returns one only when the value does not fit <see cref="decimal"/> (otherwise it returns a
/// <see cref="decimal"/>), and the jellier writes it back as received, <c>["decimal", Coefficient, Exponent]</c>, so
/// it round-trips byte for byte.
/// </summary>
/// <remarks>
/// Equality is by value, as in Python (<c>1E+1 == 10</c>), and consistent with <see cref="PbEqualityComparer"/>: a
/// <see cref="PbDecimal"/> equal to an integer, a double or a <see cref="decimal"/> equals it there and hashes like it.
/// A non-integral value that does not fit <see cref="decimal"/> equals only other <see cref="PbDecimal"/>s.
/// Twisted 22.4 cannot send NaN or infinite decimals over PB (its jelly fails for NaN, and banana cannot carry the
/// text exponent it uses for infinity), so there is no form for them.
/// </remarks>
public sealed class PbDecimal : IEquatable<PbDecimal>
{
    // Integral values with more digits than this cannot equal any double (about 309 digits) or wire integer
    // (448 bits, 135 digits), so they are never expanded to a BigInteger: 1E+1000000000 costs nothing.
    private const int MaxExpandedDigits = 330;

    private readonly BigInteger _canonicalCoefficient;
    private readonly long _canonicalExponent;

    /// <summary>Creates <paramref name="coefficient"/> × 10^<paramref name="exponent"/>, kept as given for the wire.</summary>
    public PbDecimal(BigInteger coefficient, long exponent)
    {
        Coefficient = coefficient;
        Exponent = exponent;
        // The canonical form strips trailing zeros, so that equal values compare and hash alike.
        if (coefficient.IsZero)
        {
            _canonicalCoefficient = BigInteger.Zero;
            _canonicalExponent = 0;
            return;
        }
        BigInteger c = coefficient;
        long e = exponent;
        while (e < long.MaxValue)
        {
            BigInteger q = BigInteger.DivRem(c, 10, out BigInteger r);
            if (!r.IsZero)
            {
                break;
            }
            c = q;
            e++;
        }
        _canonicalCoefficient = c;
        _canonicalExponent = e;
    }

    /// <summary>The signed coefficient (Twisted's <c>value</c>: the digits as an integer, negative for a negative decimal).</summary>
    public BigInteger Coefficient { get; }

    /// <summary>The power of ten the coefficient is multiplied by.</summary>
    public long Exponent { get; }

    /// <summary>Whether the value is an integer.</summary>
    public bool IsInteger => _canonicalExponent >= 0;

    /// <summary>The value as a <see cref="decimal"/>, when it fits one exactly.</summary>
    public bool TryGetDecimal(out decimal value)
    {
        value = 0;
        BigInteger c = _canonicalCoefficient;
        long e = _canonicalExponent;
        if (c.IsZero)
        {
            return true;
        }
        if (e > 0)
        {
            if (e > 29)
            {
                return false;
            }
            c *= BigInteger.Pow(10, (int)e);
            e = 0;
        }
        if (e < -28 || BigInteger.Abs(c) >= s_decimalLimit)
        {
            return false;
        }
        var bits = (UInt128)BigInteger.Abs(c);
        value = new decimal((int)(uint)bits, (int)(uint)(bits >> 32), (int)(uint)(bits >> 64), c.Sign < 0, (byte)-e);
        return true;
    }

    private static readonly BigInteger s_decimalLimit = BigInteger.One << 96;

    /// <summary>The value as an integer, when it is one with at most a few hundred digits.</summary>
    internal bool TryGetBigInteger(out BigInteger value)
    {
        value = default;
        if (!IsInteger || _canonicalExponent > MaxExpandedDigits - DigitCount(_canonicalCoefficient))
        {
            return false;
        }
        value = _canonicalCoefficient * BigInteger.Pow(10, (int)_canonicalExponent);
        return true;
    }

    internal bool TryGetInt64(out long value)
    {
        value = 0;
        if (TryGetBigInteger(out BigInteger big) && big >= long.MinValue && big <= long.MaxValue)
        {
            value = (long)big;
            return true;
        }
        return false;
    }

    private static long DigitCount(BigInteger c) => c.IsZero ? 1 : (long)Math.Floor(BigInteger.Log10(BigInteger.Abs(c))) + 1;

    /// <summary>Python's equality against any number (called by <see cref="PbEqualityComparer"/>).</summary>
    internal bool EqualsNumber(object other)
    {
        if (other is PbDecimal d)
        {
            return Equals(d);
        }
        if (TryGetDecimal(out decimal m))
        {
            return PbEqualityComparer.Instance.Equals(m, other);
        }
        if (!TryGetBigInteger(out BigInteger big))
        {
            return false;
        }
        return other switch
        {
            double x => double.IsFinite(x) && x == Math.Floor(x) && new BigInteger(x) == big,
            float x => float.IsFinite(x) && x == MathF.Floor(x) && new BigInteger(x) == big,
            decimal x => x == decimal.Truncate(x) && new BigInteger(x) == big,
            BigInteger x => x == big,
            ulong x => x == big,
            _ => PbEqualityComparer.TryGetInt64(other, out long l) && l == big,
        };
    }

    /// <inheritdoc/>
    public bool Equals(PbDecimal? other) =>
        other is not null && _canonicalExponent == other._canonicalExponent && _canonicalCoefficient == other._canonicalCoefficient;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PbDecimal d && Equals(d);

    /// <summary>A hash keyed per process (see <see cref="PbEqualityComparer"/>); equal numbers of any type hash alike.</summary>
    public override int GetHashCode()
    {
        if (TryGetDecimal(out decimal m))
        {
            return PbEqualityComparer.HashDecimal(m);
        }
        if (TryGetBigInteger(out BigInteger big))
        {
            return PbEqualityComparer.HashBig(big);
        }
        return HashCode.Combine(PbEqualityComparer.HashBig(_canonicalCoefficient), PbEqualityComparer.HashInt64(_canonicalExponent));
    }

    /// <summary>Python's scientific notation of the value as sent: <c>1E+400</c>, <c>-1.5E-500</c>.</summary>
    public override string ToString()
    {
        string digits = BigInteger.Abs(Coefficient).ToString(CultureInfo.InvariantCulture);
        string sign = Coefficient.Sign < 0 ? "-" : "";
        // Python's rule: plain notation when the exponent is <= 0 and the adjusted exponent >= -6.
        long adjusted = Exponent + digits.Length - 1;
        if (Exponent <= 0 && adjusted >= -6)
        {
            if (Exponent == 0)
            {
                return sign + digits;
            }
            int point = digits.Length + (int)Exponent;
            return point > 0
                ? sign + digits[..point] + "." + digits[point..]
                : sign + "0." + new string('0', -point) + digits;
        }
        string mantissa = digits.Length == 1 ? digits : digits[..1] + "." + digits[1..];
        return sign + mantissa + "E" + (adjusted >= 0 ? "+" : "") + adjusted.ToString(CultureInfo.InvariantCulture);
    }
}
