using System.Collections;
using System.Collections.Concurrent;
using System.Numerics;
using System.Reflection;
using System.Text;

namespace Pb.Jelly;

/// <summary>
/// Converts unjellied values (<see cref="long"/>, <see cref="string"/>, <see cref="List{T}"/>,
/// <see cref="PbDictionary"/>, ...) to the .NET types code asks for: other integer sizes (checked),
/// floating point, enums, nullable types, arrays, lists, sets, dictionaries and registered Copyables.
/// Conversions are built once per target type.
/// </summary>
public static class JellyConvert
{
    private static readonly ConcurrentDictionary<Type, Func<object?, object?>> s_converters = new();
    private static readonly UTF8Encoding s_strictUtf8 = new(false, true);

    /// <summary>Converts <paramref name="value"/> to <typeparamref name="T"/>.</summary>
    /// <exception cref="JellyException">The value cannot be represented as <typeparamref name="T"/>.</exception>
    public static T To<T>(object? value)
    {
        if (value is T t)
        {
            return t;
        }
        return (T)To(value, typeof(T))!;
    }

    /// <summary>Converts <paramref name="value"/> to <paramref name="type"/>.</summary>
    /// <exception cref="JellyException">The value cannot be represented as <paramref name="type"/>.</exception>
    public static object? To(object? value, Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (value is null)
        {
            // None fits any reference type and any Nullable<T>; a plain value type has no None.
            return !type.IsValueType || Nullable.GetUnderlyingType(type) is not null ? null : throw Fail(null, type);
        }
        if (type.IsInstanceOfType(value))
        {
            return value;
        }
        return s_converters.GetOrAdd(type, Build)(value);
    }

    private static JellyException Fail(object? value, Type type, string? why = null) =>
        new($"Cannot convert {PbValueFormatter.PythonTypeName(value)} {Describe(value)} to {type.Name}{(why is null ? "." : ": " + why)}");

    private static string Describe(object? value)
    {
        string text = PbValueFormatter.Format(value);
        return text.Length > 60 ? text[..60] + "..." : text;
    }

    private static Func<object?, object?> Build(Type type)
    {
        if (type == typeof(object))
        {
            return static v => v;
        }
        Type? underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
        {
            Func<object?, object?> inner = s_converters.GetOrAdd(underlying, Build);
            return v => v is null ? null : (underlying.IsInstanceOfType(v) ? v : inner(v));
        }
        if (type.IsEnum)
        {
            Type enumUnderlying = Enum.GetUnderlyingType(type);
            return v => v switch
            {
                string s when Enum.TryParse(type, s, ignoreCase: false, out object? parsed) => parsed,
                long or int or BigInteger => Enum.ToObject(type, To(v, enumUnderlying)!),
                _ => throw Fail(v, type),
            };
        }
        if (type == typeof(string))
        {
            return v => v switch
            {
                string s => s,
                byte[] b => DecodeUtf8(b, type),
                _ => throw Fail(v, type),
            };
        }
        if (type == typeof(char))
        {
            return v => v is string { Length: 1 } s ? s[0] : throw Fail(v, type);
        }
        if (type == typeof(bool))
        {
            return v => v switch
            {
                bool b => b,
                long l when l is 0 or 1 => l == 1,
                _ => throw Fail(v, type),
            };
        }
        if (IsNumeric(type))
        {
            return v => ConvertNumber(v, type);
        }
        if (type == typeof(byte[]))
        {
            return v => v switch
            {
                byte[] b => b,
                ReadOnlyMemory<byte> m => m.ToArray(),
                _ => throw Fail(v, type),
            };
        }
        if (type.IsArray && type.GetArrayRank() == 1)
        {
            return MakeGeneric(nameof(ToArray), type.GetElementType()!);
        }
        if (type.IsGenericType)
        {
            Type def = type.GetGenericTypeDefinition();
            Type[] args = type.GetGenericArguments();
            if (def == typeof(List<>) || def == typeof(IList<>) || def == typeof(ICollection<>) || def == typeof(IEnumerable<>)
                || def == typeof(IReadOnlyList<>) || def == typeof(IReadOnlyCollection<>))
            {
                return MakeGeneric(nameof(ToList), args[0]);
            }
            if (def == typeof(HashSet<>) || def == typeof(ISet<>) || def == typeof(IReadOnlySet<>))
            {
                return MakeGeneric(nameof(ToHashSet), args[0]);
            }
            if (def == typeof(Dictionary<,>) || def == typeof(IDictionary<,>) || def == typeof(IReadOnlyDictionary<,>))
            {
                return MakeGeneric(nameof(ToDictionary), args);
            }
        }
        if (RecordShape.ForReading(type) is { } shape)
        {
            return shape.Read;
        }
        return v => throw Fail(v, type);
    }

    private static string DecodeUtf8(byte[] bytes, Type type)
    {
        try
        {
            return s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new JellyException($"Cannot convert bytes to {type.Name}: they are not valid UTF-8.", e);
        }
    }

    private static Func<object?, object?> MakeGeneric(string method, params Type[] args) =>
        typeof(JellyConvert).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(args).CreateDelegate<Func<object?, object?>>();

    private static IEnumerable? AsSequence(object? v) => v switch
    {
        string or byte[] or PbDictionary or IDictionary => null,
        IEnumerable e => e,
        _ => null,
    };

    private static T[]? ToArray<T>(object? v)
    {
        if (v is null)
        {
            return null;
        }
        IEnumerable seq = AsSequence(v) ?? throw Fail(v, typeof(T[]));
        var list = new List<T>(v is ICollection c ? c.Count : 4);
        foreach (object? item in seq)
        {
            list.Add(To<T>(item));
        }
        return list.ToArray();
    }

    private static List<T>? ToList<T>(object? v)
    {
        if (v is null)
        {
            return null;
        }
        IEnumerable seq = AsSequence(v) ?? throw Fail(v, typeof(List<T>));
        var list = new List<T>(v is ICollection c ? c.Count : 4);
        foreach (object? item in seq)
        {
            list.Add(To<T>(item));
        }
        return list;
    }

    private static HashSet<T>? ToHashSet<T>(object? v)
    {
        if (v is null)
        {
            return null;
        }
        IEnumerable seq = AsSequence(v) ?? throw Fail(v, typeof(HashSet<T>));
        var set = new HashSet<T>();
        foreach (object? item in seq)
        {
            set.Add(To<T>(item));
        }
        return set;
    }

    private static Dictionary<TKey, TValue>? ToDictionary<TKey, TValue>(object? v) where TKey : notnull
    {
        switch (v)
        {
            case null:
                return null;
            case PbDictionary pd:
            {
                var result = new Dictionary<TKey, TValue>(pd.Count);
                foreach (KeyValuePair<object?, object?> entry in pd)
                {
                    result[To<TKey>(entry.Key)] = To<TValue>(entry.Value);
                }
                return result;
            }
            case IDictionary d:
            {
                var result = new Dictionary<TKey, TValue>(d.Count);
                foreach (DictionaryEntry entry in d)
                {
                    result[To<TKey>(entry.Key)] = To<TValue>(entry.Value);
                }
                return result;
            }
            default:
                throw Fail(v, typeof(Dictionary<TKey, TValue>));
        }
    }

    private static bool IsNumeric(Type t) =>
        t == typeof(long) || t == typeof(int) || t == typeof(short) || t == typeof(sbyte) || t == typeof(byte)
        || t == typeof(ushort) || t == typeof(uint) || t == typeof(ulong) || t == typeof(double) || t == typeof(float)
        || t == typeof(decimal) || t == typeof(BigInteger) || t == typeof(Half) || t == typeof(Int128) || t == typeof(UInt128);

    private static object ConvertNumber(object? v, Type type)
    {
        try
        {
            switch (v)
            {
                case long l:
                    return FromBig(l, type);
                case BigInteger big:
                    return FromBig(big, type);
                case bool b:
                    return FromBig(b ? 1 : 0, type);
                case double d:
                    if (type == typeof(double)) return d;
                    if (type == typeof(float)) return (float)d;
                    if (type == typeof(Half)) return (Half)d;
                    if (type == typeof(decimal)) return (decimal)d;
                    if (double.IsFinite(d) && d == Math.Floor(d))
                    {
                        return FromBig(new BigInteger(d), type);
                    }
                    throw Fail(v, type, "it is not a whole number");
                case decimal m:
                    if (type == typeof(decimal)) return m;
                    if (type == typeof(double)) return (double)m;
                    if (type == typeof(float)) return (float)m;
                    if (m == decimal.Truncate(m))
                    {
                        return FromBig(new BigInteger(m), type);
                    }
                    throw Fail(v, type, "it is not a whole number");
                default:
                    if (v is not null && PbEqualityComparer.IsNumber(v))
                    {
                        return ConvertNumber(Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture), type);
                    }
                    throw Fail(v, type);
            }
        }
        catch (OverflowException)
        {
            throw Fail(v, type, "it is out of range");
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "Returns the boxed value of the requested type.")]
    private static object FromBig(BigInteger value, Type type)
    {
        if (type == typeof(long)) return (long)value;
        if (type == typeof(int)) return (int)value;
        if (type == typeof(double)) return (double)value;
        if (type == typeof(BigInteger)) return value;
        if (type == typeof(short)) return (short)value;
        if (type == typeof(byte)) return (byte)value;
        if (type == typeof(sbyte)) return (sbyte)value;
        if (type == typeof(ushort)) return (ushort)value;
        if (type == typeof(uint)) return (uint)value;
        if (type == typeof(ulong)) return (ulong)value;
        if (type == typeof(float)) return (float)value;
        if (type == typeof(decimal)) return (decimal)value;
        if (type == typeof(Half)) return (Half)(double)value;
        if (type == typeof(Int128)) return (Int128)value;
        if (type == typeof(UInt128)) return (UInt128)value;
        throw new JellyException($"Cannot convert an integer to {type.Name}.");
    }
}
