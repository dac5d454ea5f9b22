using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using Pb.Jelly;

namespace Pb.Tests;

/// <summary>
/// Renders unjellied .NET values as Python's repr() renders the values Twisted unjellies, so a test can
/// compare our result with the result_repr recorded from real Twisted. Other objects render as
/// <c>&lt;Namespace.Type object&gt;</c>, like Python's default repr without the address.
/// </summary>
internal static class PyRepr
{
    public static string Of(object? value) => Render(value, new HashSet<object>(ReferenceEqualityComparer.Instance));

    private static string Render(object? v, HashSet<object> active)
    {
        switch (v)
        {
            case null: return "None";
            case bool b: return b ? "True" : "False";
            case long or int or BigInteger: return Convert.ToString(v, CultureInfo.InvariantCulture)!;
            case double d: return Float(d);
            case byte[] bytes: return Bytes(bytes);
            case string s: return Str(s);
            case decimal m: return "Decimal('" + Decimal(m) + "')";
            case PbDecimal pd: return "Decimal('" + pd + "')";
            case DateTime dt: return DateTimeRepr(dt);
            case DateOnly date: return $"datetime.date({date.Year}, {date.Month}, {date.Day})";
            case TimeOnly t: return TimeRepr(t);
            case TimeSpan span: return TimeDelta(span);
        }
        if (!active.Add(v))
        {
            return v switch { List<object?> => "[...]", PbTuple => "(...)", _ => "{...}" };
        }
        try
        {
            return v switch
            {
                List<object?> list => "[" + string.Join(", ", list.Select(x => Render(x, active))) + "]",
                PbTuple t => t.Count == 1 ? "(" + Render(t[0], active) + ",)" : "(" + string.Join(", ", t.Select(x => Render(x, active))) + ")",
                PbDictionary d => "{" + string.Join(", ", d.Select(e => Render(e.Key, active) + ": " + Render(e.Value, active))) + "}",
                HashSet<object?> set => set.Count == 0 ? "set()" : "{" + string.Join(", ", set.Select(x => Render(x, active))) + "}",
                PbFrozenSet f => f.Count == 0 ? "frozenset()" : "frozenset({" + string.Join(", ", f.Select(x => Render(x, active))) + "})",
                _ => "<" + v.GetType().FullName + " object>",
            };
        }
        finally
        {
            active.Remove(v);
        }
    }

    private static string Float(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        // "R" gives the shortest round-trip digits, as Python's repr does; Python lays them out its own way
        // (float_repr_style 'short'): exponent form when the decimal point is not within -4 < decpt <= 16.
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        string sign = r.StartsWith('-') ? "-" : "";
        string body = r.TrimStart('-');
        int exponent = 0;
        int e = body.IndexOf('E', StringComparison.Ordinal);
        if (e >= 0)
        {
            exponent = int.Parse(body[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            body = body[..e];
        }
        int point = body.IndexOf('.', StringComparison.Ordinal);
        string digits = point < 0 ? body : body.Remove(point, 1);
        int decpt = (point < 0 ? body.Length : point) + exponent; // value = 0.DIGITS * 10**decpt
        int leading = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        decpt -= leading;
        if (digits.Length == 0)
        {
            return sign + "0.0";
        }
        if (decpt <= -4 || decpt > 16)
        {
            string mantissa = digits.Length == 1 ? digits : digits[..1] + "." + digits[1..];
            int exp = decpt - 1;
            return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
        }
        if (decpt <= 0)
        {
            return sign + "0." + new string('0', -decpt) + digits;
        }
        if (decpt >= digits.Length)
        {
            return sign + digits + new string('0', decpt - digits.Length) + ".0";
        }
        return sign + digits[..decpt] + "." + digits[decpt..];
    }

    private static string Bytes(byte[] bytes)
    {
        bool hasSingle = bytes.Contains((byte)'\''), hasDouble = bytes.Contains((byte)'"');
        char quote = hasSingle && !hasDouble ? '"' : '\'';
        var sb = new StringBuilder("b").Append(quote);
        foreach (byte b in bytes)
        {
            sb.Append(b switch
            {
                (byte)'\\' => "\\\\",
                (byte)'\t' => "\\t",
                (byte)'\n' => "\\n",
                (byte)'\r' => "\\r",
                _ when b == quote => "\\" + quote,
                _ when b < 0x20 || b >= 0x7f => "\\x" + b.ToString("x2", CultureInfo.InvariantCulture),
                _ => ((char)b).ToString(),
            });
        }
        return sb.Append(quote).ToString();
    }

    private static string Str(string s)
    {
        bool hasSingle = s.Contains('\''), hasDouble = s.Contains('"');
        char quote = hasSingle && !hasDouble ? '"' : '\'';
        var sb = new StringBuilder().Append(quote);
        for (int i = 0; i < s.Length; i++)
        {
            bool pair = char.IsSurrogatePair(s, i);
            int codePoint = pair ? char.ConvertToUtf32(s[i], s[i + 1]) : s[i];
            string? escape = codePoint switch
            {
                '\\' => "\\\\",
                '\t' => "\\t",
                '\n' => "\\n",
                '\r' => "\\r",
                _ when codePoint == quote => "\\" + quote,
                _ when IsPrintable(codePoint) => null,
                < 0x100 => "\\x" + codePoint.ToString("x2", CultureInfo.InvariantCulture),
                < 0x10000 => "\\u" + codePoint.ToString("x4", CultureInfo.InvariantCulture),
                _ => "\\U" + codePoint.ToString("x8", CultureInfo.InvariantCulture),
            };
            if (escape is not null)
            {
                sb.Append(escape);
            }
            else
            {
                sb.Append(s, i, pair ? 2 : 1);
            }
            if (pair)
            {
                i++;
            }
        }
        return sb.Append(quote).ToString();
    }

    /// <summary>
    /// Python's <c>str.isprintable()</c> for one code point: everything except the Unicode categories Other (Cc, Cf,
    /// Cs, Co, Cn) and Separator (Zl, Zp, Zs), the ASCII space excepted. repr() escapes the rest.
    /// </summary>
    private static bool IsPrintable(int codePoint) =>
        codePoint == ' ' || (codePoint is < 0xd800 or > 0xdfff && CharUnicodeInfo.GetUnicodeCategory(codePoint) is not
            (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
                or UnicodeCategory.SpaceSeparator));

    private static string Decimal(decimal m)
    {
        // Python's Decimal.__str__ for a finite value with exponent <= 0 (all .NET decimals).
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(m, bits);
        int scale = (bits[3] >> 16) & 0xFF;
        bool negative = bits[3] < 0;
        var mantissa = (BigInteger)(((UInt128)(uint)bits[2] << 64) | ((UInt128)(uint)bits[1] << 32) | (uint)bits[0]);
        string digits = mantissa.ToString(CultureInfo.InvariantCulture);
        int exponent = -scale;
        int adjusted = digits.Length - 1 + exponent;
        string body;
        if (adjusted >= -6)
        {
            if (scale == 0)
            {
                body = digits;
            }
            else if (digits.Length > scale)
            {
                body = digits[..^scale] + "." + digits[^scale..];
            }
            else
            {
                body = "0." + new string('0', scale - digits.Length) + digits;
            }
        }
        else
        {
            body = digits[..1] + (digits.Length > 1 ? "." + digits[1..] : "") + "E" + adjusted.ToString(CultureInfo.InvariantCulture);
        }
        return (negative && !mantissa.IsZero ? "-" : negative ? "-" : "") + body;
    }

    private static string DateTimeRepr(DateTime dt)
    {
        long micros = (dt.Ticks % TimeSpan.TicksPerSecond) / 10;
        var fields = new List<long> { dt.Year, dt.Month, dt.Day, dt.Hour, dt.Minute };
        if (micros != 0) { fields.Add(dt.Second); fields.Add(micros); }
        else if (dt.Second != 0) { fields.Add(dt.Second); }
        return "datetime.datetime(" + string.Join(", ", fields) + ")";
    }

    private static string TimeRepr(TimeOnly t)
    {
        long micros = (t.Ticks % TimeSpan.TicksPerSecond) / 10;
        var fields = new List<long> { t.Hour, t.Minute };
        if (micros != 0) { fields.Add(t.Second); fields.Add(micros); }
        else if (t.Second != 0) { fields.Add(t.Second); }
        return "datetime.time(" + string.Join(", ", fields) + ")";
    }

    private static string TimeDelta(TimeSpan span)
    {
        long micros = span.Ticks / 10;
        long days = (long)Math.Floor(micros / 86_400_000_000.0);
        long within = micros - days * 86_400_000_000;
        var parts = new List<string>();
        if (days != 0) parts.Add($"days={days}");
        if (within / 1_000_000 != 0) parts.Add($"seconds={within / 1_000_000}");
        if (within % 1_000_000 != 0) parts.Add($"microseconds={within % 1_000_000}");
        return "datetime.timedelta(" + (parts.Count == 0 ? "0" : string.Join(", ", parts)) + ")";
    }
}
