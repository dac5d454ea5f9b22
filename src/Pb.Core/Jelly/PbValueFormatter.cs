using System.Globalization;
using System.Numerics;
using System.Text;

namespace Pb.Jelly;

/// <summary>Python-like text for jelly values, for error messages, logs and ToString. Not on any hot path.</summary>
internal static class PbValueFormatter
{
    /// <summary>Formats <paramref name="value"/> as Python would show it (shortened for long byte strings).</summary>
    public static string Format(object? value) => value switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        string s => "'" + s.Replace("'", "\\'", StringComparison.Ordinal) + "'",
        byte[] bytes => "b'" + Escape(bytes) + "'",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        long or int or BigInteger => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        List<object?> list => "[" + string.Join(", ", list.Select(Format)) + "]",
        HashSet<object?> set => "{" + string.Join(", ", set.Select(Format)) + "}",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? value.GetType().Name,
    };

    /// <summary>The Python type name of a jelly value, for messages.</summary>
    public static string PythonTypeName(object? value) => value switch
    {
        null => "NoneType",
        string or char => "str",
        byte[] or ReadOnlyMemory<byte> => "bytes",
        bool => "bool",
        long or int or short or sbyte or byte or ushort or uint or ulong or System.Numerics.BigInteger => "int",
        double or float => "float",
        PbTuple => "tuple",
        List<object?> or System.Collections.IList => "list",
        PbDictionary or System.Collections.IDictionary => "dict",
        HashSet<object?> => "set",
        _ => value.GetType().Name,
    };

    private static string Escape(byte[] bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes.AsSpan(0, Math.Min(bytes.Length, 64)))
        {
            if (b is >= 0x20 and < 0x7F && b != (byte)'\'' && b != (byte)'\\')
            {
                sb.Append((char)b);
            }
            else
            {
                sb.Append("\\x").Append(b.ToString("x2", CultureInfo.InvariantCulture));
            }
        }
        return bytes.Length > 64 ? sb.Append("...").ToString() : sb.ToString();
    }
}
