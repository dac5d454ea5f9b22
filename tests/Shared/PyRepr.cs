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
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        if (r.Contains('E', StringComparison.Ordinal))
        {
            // Python: 1e+300, 5e-324
            string[] parts = r.Split('E');
            string exp = parts[1].StartsWith('-') ? parts[1] : "+" + parts[1].TrimStart('+');
            return parts[0] + "e" + exp;
        }
        return r.Contains('.', StringComparison.Ordinal) ? r : r + ".0";
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
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '\\' => "\\\\",
                '\t' => "\\t",
                '\n' => "\\n",
                '\r' => "\\r",
                _ when c == quote => "\\" + quote,
                _ when c < 0x20 || c == 0x7f => "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }
        return sb.Append(quote).ToString();
    }

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
