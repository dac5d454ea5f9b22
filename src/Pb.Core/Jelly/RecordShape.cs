using System.Collections;
using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Pb.Jelly;

/// <summary>
/// A typed value's members and how to read and write them as a jelly dict with text keys (see
/// <see cref="PbRecordAttribute"/>): built once per type with compiled expression trees, no reflection per value.
/// </summary>
internal sealed class RecordShape
{
    private static readonly ConcurrentDictionary<Type, RecordShape?> s_forReading = new();
    private static readonly ConcurrentDictionary<Type, RecordShape?> s_forWriting = new();

    private readonly Dictionary<string, int> _byName;
    private readonly Func<object?[], long[], bool[], object> _create;
    private readonly bool _refuseUnknownKeys;

    private RecordShape(Type type, Member[] members, Func<object?[], long[], bool[], object> create, bool refuseUnknownKeys)
    {
        Type = type;
        Members = members;
        _create = create;
        _refuseUnknownKeys = refuseUnknownKeys;
        Flat = Array.TrueForAll(members, m => IsScalar(Nullable.GetUnderlyingType(m.Type) ?? m.Type));
        _longestItem = LongestItem;
        _byName = new Dictionary<string, int>(members.Length, StringComparer.Ordinal);
        for (int i = 0; i < members.Length; i++)
        {
            if (!_byName.TryAdd(members[i].Name, i))
            {
                throw new JellyException($"{type.Name} has two members named '{members[i].Name}' on the wire: give one a [PbName].");
            }
        }
    }

    public Type Type { get; }

    /// <summary>Every member is a scalar (numbers, text, bytes, times, enums): the value cannot hold a shared reference.</summary>
    public bool Flat { get; }

    private readonly Encoded?[] _encoded = new Encoded?[2];
    private readonly int _longestItem;

    /// <summary>The longest item in this type's fixed bytes: a read may compare them only under a larger item limit.</summary>
    internal int LongestFixedItem => _longestItem;

    /// <summary>
    /// The bytes every value of this type starts with, and each member's <c>[key, </c> prefix, in one dialect; and what
    /// the jellier writes before each member's value in one copy (<see cref="Leads"/>): the head before the first
    /// member's prefix, and after a text member's prefix the <c>["unicode", </c> of its value (left off for None).
    /// </summary>
    internal sealed record Encoded(byte[] Head, byte[][] Prefixes, byte[][] Leads);

    /// <summary>This type's fixed bytes in <paramref name="dialect"/>: written with one copy each instead of item by item.</summary>
    internal Encoded EncodedFor(Banana.BananaDialect dialect, Banana.BananaLimits limits) =>
        _encoded[(int)dialect] is { } cached && limits.MaxItemLength > _longestItem ? cached : BuildEncoded(dialect, limits);

    // The longest item the fixed bytes hold (a key's UTF-8, or the dict's entry count): under stricter limits than
    // that, the bytes are built again so the writer refuses them as it would refuse them item by item.
    private int LongestItem => Math.Max(Members.Length + 1, Members.Length == 0 ? 0 : Members.Max(m => Encoding.UTF8.GetByteCount(m.Name)));

    private Encoded BuildEncoded(Banana.BananaDialect dialect, Banana.BananaLimits limits)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(64);
        var w = new Banana.BananaWriter(buffer, dialect, limits);
        w.WriteListHeader(Members.Length + 1);
        w.WriteRaw(JellyTags.Encoded(JellyTag.Dictionary, dialect));
        w.Flush();
        byte[] head = buffer.WrittenSpan.ToArray();
        var prefixes = new byte[Members.Length][];
        for (int i = 0; i < Members.Length; i++)
        {
            buffer.ResetWrittenCount();
            w = new Banana.BananaWriter(buffer, dialect, limits);
            w.WriteListHeader(2);
            w.WriteRaw(JellyConstants.For(dialect).UnicodePrefix);
            w.WriteUtf8(Members[i].Name);
            w.Flush();
            prefixes[i] = buffer.WrittenSpan.ToArray();
        }
        byte[] unicode = JellyConstants.For(dialect).UnicodePrefix;
        byte[][] leads = [.. prefixes.Select((prefix, i) => (byte[])[.. i == 0 ? head : [], .. prefix, .. Members[i].Kind == MemberKind.String ? unicode : []])];
        return _encoded[(int)dialect] = new Encoded(head, prefixes, leads);
    }

    /// <summary>The public properties, in declaration order; each knows its key.</summary>
    public Member[] Members { get; }

    /// <summary>One member: its key (an interned string, so the jellier's key cache keeps its encoding), type and accessors.</summary>
    internal sealed record Member(string Name, Type Type, Func<object, object?> Get, bool AllowsNull, bool Required, bool HasDefault, object? Default)
    {
        /// <summary>How the jellier writes this member without boxing: <see cref="MemberKind.Other"/> goes through <see cref="Get"/>.</summary>
        public MemberKind Kind { get; init; }

        /// <summary>Where a read keeps this member's value until the value is made: unboxed for long, int, double and bool.</summary>
        public MemberSlot Slot { get; init; }

        /// <summary>The value of an Int64-kind member (long, int, short, ... widened), unboxed.</summary>
        public Func<object, long>? GetInt64 { get; init; }

        public Func<object, double>? GetDouble { get; init; }

        public Func<object, string?>? GetString { get; init; }

        public Func<object, bool>? GetBoolean { get; init; }
    }

    internal enum MemberKind : byte { Other, Int64, Double, String, Boolean }

    /// <summary>
    /// A member's place in a <see cref="Builder"/>: <see cref="Object"/> in the object array, the others in the long array
    /// (a double as its bits, a bool as 0 or 1), so reading a record boxes none of its numbers.
    /// </summary>
    internal enum MemberSlot : byte { Object, Int64, Int32, Double, Boolean }

    private static bool IsScalar(Type t) =>
        t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(byte[]) || t == typeof(DateTime)
        || t == typeof(DateOnly) || t == typeof(TimeOnly) || t == typeof(TimeSpan) || t == typeof(System.Numerics.BigInteger);

    /// <summary>The shape the jellier writes <paramref name="type"/> with: records and <c>[PbRecord]</c> types only.</summary>
    public static RecordShape? ForWriting(Type type) => s_forWriting.GetOrAdd(type, static t =>
        IsCandidate(t) && (t.IsDefined(typeof(PbRecordAttribute), inherit: false) || IsRecord(t)) ? ForReading(t) : null);

    /// <summary>The shape a value of <paramref name="type"/> is read with, when code asks for that type; null when it is not a typed value.</summary>
    public static RecordShape? ForReading(Type type) => s_forReading.GetOrAdd(type, static t => IsCandidate(t) ? Build(t) : null);

    private static bool IsCandidate(Type t) =>
        !t.IsAbstract && !t.IsInterface && !t.IsPrimitive && !t.IsEnum && !t.IsPointer && !t.IsByRef && !t.ContainsGenericParameters
        && !t.IsArray && t != typeof(string) && t != typeof(object) && t != typeof(decimal)
        && Nullable.GetUnderlyingType(t) is null
        && ((t.Assembly != typeof(RecordShape).Assembly && (t.Namespace is not { } ns || !(ns == "System" || ns.StartsWith("System.", StringComparison.Ordinal))))
            || t.IsDefined(typeof(PbRecordAttribute), false))
        && !typeof(IEnumerable).IsAssignableFrom(t) && !typeof(Delegate).IsAssignableFrom(t) && !typeof(Exception).IsAssignableFrom(t)
        && !typeof(System.Threading.Tasks.Task).IsAssignableFrom(t) && !typeof(ICopyableFlavor).IsAssignableFrom(t)
        && !IsFlavor(t)
        && (t.IsValueType || t.GetConstructors().Length > 0);

    // Referenceables, Viewables and Cacheables travel by reference or by their flavor's own rules (Pb.Core's own types
    // are excluded above; user types deriving from them are caught here).
    private static bool IsFlavor(Type t)
    {
        for (Type? b = t.BaseType; b is not null; b = b.BaseType)
        {
            if (b.Namespace == "Pb" && b.Assembly == typeof(RecordShape).Assembly)
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A record class (its compiler-made <c>&lt;Clone&gt;$</c>) or record struct (its compiler-made <c>PrintMembers</c>).</summary>
    private static bool IsRecord(Type t) =>
        t.IsValueType
            ? t.GetMethod("PrintMembers", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public) is { } print && print.IsDefined(typeof(CompilerGeneratedAttribute))
              && typeof(IEquatable<>).MakeGenericType(t).IsAssignableFrom(t)
            : t.GetMethod("<Clone>$", BindingFlags.Instance | BindingFlags.Public) is not null;

    private static RecordShape Build(Type type)
    {
        PbRecordAttribute settings = type.GetCustomAttribute<PbRecordAttribute>(inherit: false)
            ?? type.Assembly.GetCustomAttribute<PbRecordAttribute>() ?? new PbRecordAttribute();
        var nullability = new NullabilityInfoContext();
        PropertyInfo[] properties = [.. type.GetProperties(BindingFlags.Instance | BindingFlags.Public)
            .Where(p => p.GetIndexParameters().Length == 0 && p.GetMethod is { IsPublic: true })
            .OrderBy(p => p.MetadataToken)];

        // The constructor: the one with the most parameters that all name properties (a record's primary one), else none.
        ConstructorInfo? constructor = type.GetConstructors()
            .Where(c => c.GetParameters().All(p => properties.Any(q => string.Equals(q.Name, p.Name, StringComparison.OrdinalIgnoreCase) && q.PropertyType == p.ParameterType)))
            .OrderByDescending(c => c.GetParameters().Length)
            .FirstOrDefault();
        if (constructor is null && !type.IsValueType)
        {
            throw new JellyException($"{type.Name} cannot be read as a typed value: it has no public constructor whose parameters all name its properties.");
        }
        ParameterInfo[] parameters = constructor?.GetParameters() ?? [];

        var members = new Member[properties.Length];
        var ctorIndex = new int[parameters.Length];
        for (int i = 0; i < properties.Length; i++)
        {
            PropertyInfo p = properties[i];
            string name = string.Intern(p.GetCustomAttribute<PbNameAttribute>()?.Name ?? settings.Naming switch
            {
                PbNamingPolicy.SnakeCaseLower => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name),
                PbNamingPolicy.AsDeclared => p.Name,
                _ => JsonNamingPolicy.CamelCase.ConvertName(p.Name),
            });
            int pi = Array.FindIndex(parameters, q => string.Equals(q.Name, p.Name, StringComparison.OrdinalIgnoreCase));
            bool allowsNull;
            bool required;
            bool hasDefault = false;
            object? defaultValue = null;
            if (pi >= 0)
            {
                ctorIndex[pi] = i;
                ParameterInfo parameter = parameters[pi];
                allowsNull = AllowsNull(parameter.ParameterType, nullability.Create(parameter).WriteState);
                hasDefault = parameter.HasDefaultValue;
                defaultValue = hasDefault ? parameter.DefaultValue : null;
                required = !hasDefault && !allowsNull;
            }
            else
            {
                allowsNull = AllowsNull(p.PropertyType, nullability.Create(p).WriteState);
                required = p.IsDefined(typeof(RequiredMemberAttribute));
            }
            Type pt = p.PropertyType;
            MemberKind kind = pt == typeof(long) || pt == typeof(int) || pt == typeof(short) || pt == typeof(sbyte) || pt == typeof(byte) || pt == typeof(ushort) || pt == typeof(uint)
                ? MemberKind.Int64
                : pt == typeof(double) ? MemberKind.Double
                : pt == typeof(string) ? MemberKind.String
                : pt == typeof(bool) ? MemberKind.Boolean
                : MemberKind.Other;
            members[i] = new Member(name, pt, CompileGetter(type, p), allowsNull, required, hasDefault, defaultValue)
            {
                Kind = kind,
                Slot = pt == typeof(long) ? MemberSlot.Int64 : pt == typeof(int) ? MemberSlot.Int32 : pt == typeof(double) ? MemberSlot.Double
                    : pt == typeof(bool) ? MemberSlot.Boolean : MemberSlot.Object,
                GetInt64 = kind == MemberKind.Int64 ? CompileGetter<long>(type, p) : null,
                GetDouble = kind == MemberKind.Double ? CompileGetter<double>(type, p) : null,
                GetString = kind == MemberKind.String ? CompileGetter<string?>(type, p) : null,
                GetBoolean = kind == MemberKind.Boolean ? CompileGetter<bool>(type, p) : null,
            };
        }
        Func<object?[], long[], bool[], object> create = CompileCreate(type, constructor, parameters, ctorIndex, properties);
        return new RecordShape(type, members, create, settings.RefuseUnknownKeys);
    }

    private static bool AllowsNull(Type type, NullabilityState state) =>
        type.IsValueType ? Nullable.GetUnderlyingType(type) is not null : state != NullabilityState.NotNull;

    private static Func<object, T> CompileGetter<T>(Type type, PropertyInfo property)
    {
        ParameterExpression obj = Expression.Parameter(typeof(object));
        Expression access = Expression.Property(Expression.Convert(obj, type), property);
        return Expression.Lambda<Func<object, T>>(access.Type == typeof(T) ? access : Expression.Convert(access, typeof(T)), obj).Compile();
    }

    private static Func<object, object?> CompileGetter(Type type, PropertyInfo property)
    {
        ParameterExpression obj = Expression.Parameter(typeof(object));
        Expression access = Expression.Property(Expression.Convert(obj, type), property);
        return Expression.Lambda<Func<object, object?>>(Expression.Convert(access, typeof(object)), obj).Compile();
    }

    /// <summary>
    /// <c>(values, scalars, present) =&gt; { var x = new T(values[c0], scalars[c1], ...); if (present[k]) x.P = values[k]; ...; return x; }</c>:
    /// values are already converted to each member's type; long, int, double and bool members come from
    /// <c>scalars</c> (see <see cref="MemberSlot"/>).
    /// </summary>
    private static Func<object?[], long[], bool[], object> CompileCreate(Type type, ConstructorInfo? constructor, ParameterInfo[] parameters, int[] ctorIndex, PropertyInfo[] properties)
    {
        ParameterExpression values = Expression.Parameter(typeof(object?[]), "values");
        ParameterExpression scalars = Expression.Parameter(typeof(long[]), "scalars");
        ParameterExpression present = Expression.Parameter(typeof(bool[]), "present");
        ParameterExpression result = Expression.Variable(type, "result");
        var body = new List<Expression>();
        Expression Value(int i, Type t)
        {
            Expression scalar = Expression.ArrayIndex(scalars, Expression.Constant(i));
            return t == typeof(long) ? scalar
                : t == typeof(int) ? Expression.Convert(scalar, typeof(int))
                : t == typeof(double) ? Expression.Call(typeof(BitConverter), nameof(BitConverter.Int64BitsToDouble), null, scalar)
                : t == typeof(bool) ? Expression.NotEqual(scalar, Expression.Constant(0L))
                : Expression.Convert(Expression.ArrayIndex(values, Expression.Constant(i)), t);
        }
        body.Add(Expression.Assign(result, constructor is null
            ? Expression.New(type)
            : Expression.New(constructor, parameters.Select((p, j) => Value(ctorIndex[j], p.ParameterType)))));
        for (int i = 0; i < properties.Length; i++)
        {
            PropertyInfo p = properties[i];
            if (parameters.Any(q => string.Equals(q.Name, p.Name, StringComparison.OrdinalIgnoreCase)))
            {
                continue; // set by the constructor
            }
            if (p.SetMethod is { IsPublic: true })
            {
                // init accessors too: an expression tree calls them like any setter.
                body.Add(Expression.IfThen(Expression.ArrayIndex(present, Expression.Constant(i)), Expression.Assign(Expression.Property(result, p), Value(i, p.PropertyType))));
            }
        }
        body.Add(Expression.Convert(result, typeof(object)));
        return Expression.Lambda<Func<object?[], long[], bool[], object>>(Expression.Block([result], body), values, scalars, present).Compile();
    }

    /// <summary>Reads a dict (text keys) into a new value of <see cref="Type"/>.</summary>
    /// <exception cref="JellyException">Not a dict, a key that is not text, a missing required member, None for a member that cannot be None, a value of the wrong kind, or (when refused) an unknown key: the message names it.</exception>
    public object Read(object? value)
    {
        Builder builder = StartReading();
        switch (value)
        {
            case PbDictionary dict:
                foreach (KeyValuePair<object?, object?> entry in dict)
                {
                    Take(ref builder, entry.Key, entry.Value);
                }
                break;
            case IDictionary dict:
                foreach (DictionaryEntry entry in dict)
                {
                    Take(ref builder, entry.Key, entry.Value);
                }
                break;
            default:
                throw new JellyException($"Cannot read {Type.Name} from {PbValueFormatter.PythonTypeName(value)}: a typed value travels as a dict with text keys.");
        }
        return builder.Finish();
    }

    private void Take(ref Builder builder, object? key, object? value)
    {
        int i = key switch
        {
            string s => IndexOf(s),
            byte[] b => IndexOf(Encoding.UTF8.GetString(b)),
            _ => BadKey(key),
        };
        if (i < 0)
        {
            return;
        }
        Member m = Members[i];
        object? converted = null;
        if (value is not null)
        {
            try
            {
                converted = JellyConvert.To(value, m.Type);
            }
            catch (JellyException e)
            {
                throw new JellyException($"Cannot read {Type.Name}.{m.Name}: {e.Message}", e);
            }
        }
        builder.Set(i, converted);
    }

    /// <summary>The member a key names, or -1 for an unknown key (refused with an error when the type says so).</summary>
    internal int IndexOf(string key)
    {
        if (_byName.TryGetValue(key, out int i))
        {
            return i;
        }
        return _refuseUnknownKeys ? throw new JellyException($"Cannot read {Type.Name}: unknown key '{key}'.") : -1;
    }

    internal int BadKey(object? key) =>
        throw new JellyException($"Cannot read {Type.Name}: its keys must be text, not {PbValueFormatter.PythonTypeName(key)}.");

    internal Builder StartReading() => new(this, new object?[Members.Length], new long[Members.Length], new bool[Members.Length]);

    /// <summary>A builder over arrays the caller reuses from one value to the next (they are cleared here).</summary>
    internal Builder StartReading(object?[] values, long[] scalars, bool[] present)
    {
        Array.Clear(present);
        return new(this, values, scalars, present);
    }

    /// <summary>The members read so far of one value; <see cref="Finish"/> checks what is missing and makes the value.</summary>
    internal readonly struct Builder(RecordShape shape, object?[] values, long[] scalars, bool[] present)
    {
        private readonly object?[] _values = values;
        private readonly long[] _scalars = scalars;
        private readonly bool[] _present = present;

        /// <summary>Sets member <paramref name="i"/> to a value already of its type (null for None).</summary>
        public void Set(int i, object? value)
        {
            Member m = shape.Members[i];
            if (value is null && !m.AllowsNull)
            {
                throw new JellyException($"Cannot read {shape.Type.Name}: member '{m.Name}' cannot be None.");
            }
            switch (m.Slot)
            {
                case MemberSlot.Int64:
                    _scalars[i] = (long)value!;
                    break;
                case MemberSlot.Int32:
                    _scalars[i] = (int)value!;
                    break;
                case MemberSlot.Double:
                    _scalars[i] = BitConverter.DoubleToInt64Bits((double)value!);
                    break;
                case MemberSlot.Boolean:
                    _scalars[i] = (bool)value! ? 1 : 0;
                    break;
                default:
                    _values[i] = value;
                    break;
            }
            _present[i] = true;
        }

        /// <summary>Sets a long or int member (<see cref="MemberSlot.Int64"/>, <see cref="MemberSlot.Int32"/>: the caller checked the range of an int), unboxed.</summary>
        public void SetInteger(int i, long value)
        {
            _scalars[i] = value;
            _present[i] = true;
        }

        /// <summary>Sets a double member (<see cref="MemberSlot.Double"/>), unboxed.</summary>
        public void SetDouble(int i, double value)
        {
            _scalars[i] = BitConverter.DoubleToInt64Bits(value);
            _present[i] = true;
        }

        /// <summary>Sets a bool member (<see cref="MemberSlot.Boolean"/>), unboxed.</summary>
        public void SetBoolean(int i, bool value)
        {
            _scalars[i] = value ? 1 : 0;
            _present[i] = true;
        }

        public object Finish()
        {
            Member[] members = shape.Members;
            for (int i = 0; i < members.Length; i++)
            {
                if (_present[i])
                {
                    continue;
                }
                Member m = members[i];
                if (m.Required)
                {
                    throw new JellyException($"Cannot read {shape.Type.Name}: missing required member '{m.Name}'.");
                }
                object? fallback = m.HasDefault ? m.Default : null;
                if (m.Slot == MemberSlot.Object)
                {
                    _values[i] = fallback is null && m.Type.IsValueType && Nullable.GetUnderlyingType(m.Type) is null ? Activator.CreateInstance(m.Type) : fallback;
                }
                else
                {
                    _scalars[i] = fallback is null ? 0 : m.Slot switch
                    {
                        MemberSlot.Double => BitConverter.DoubleToInt64Bits(System.Convert.ToDouble(fallback, System.Globalization.CultureInfo.InvariantCulture)),
                        MemberSlot.Boolean => (bool)fallback ? 1 : 0,
                        _ => System.Convert.ToInt64(fallback, System.Globalization.CultureInfo.InvariantCulture),
                    };
                }
            }
            return shape._create(_values, _scalars, _present);
        }
    }
}
