using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;

namespace Pb.Jelly;

/// <summary>
/// The allow-list of Copyable types for one serializer: each registered .NET type travels as
/// <c>[type-tag, state]</c> and a received tag builds that type. Register at startup; lookups are lock-free.
/// </summary>
/// <example>
/// <code>
/// var types = new JellyTypeRegistry().Add&lt;Point&gt;("pbvectors.Point");
/// // Point { public int X { get; set; } ... } travels as ["pbvectors.Point", ["dictionary", [["unicode", "x"], 1], ...]]
/// </code>
/// </example>
public sealed class JellyTypeRegistry
{
    private readonly object _gate = new();
    private volatile Dictionary<string, CopyableType> _byTag = new(StringComparer.Ordinal);
    private volatile Dictionary<Type, CopyableType> _byType = new();
    private readonly ConcurrentDictionary<Type, CopyableType?> _resolved = new();

    /// <summary>
    /// Registers <typeparamref name="T"/> under <paramref name="typeTag"/> with its state made of its public
    /// read-write properties and fields, named in camelCase or by <see cref="PbNameAttribute"/>. Received
    /// state sets the members it names (text or byte-string keys) and ignores the rest.
    /// </summary>
    public JellyTypeRegistry Add<T>(string typeTag) where T : class, new()
    {
        MemberMap map = MemberMap.For(typeof(T));
        return Add(new CopyableType(typeTag, typeof(T), (o, _) => map.GetState(o), static () => new T(), map.SetState, null));
    }

    /// <summary>
    /// Registers <typeparamref name="T"/> under <paramref name="typeTag"/> with your own state functions:
    /// <paramref name="getState"/> returns any jellyable value, <paramref name="create"/> rebuilds the object
    /// from the received (unjellied) state.
    /// </summary>
    public JellyTypeRegistry Add<T>(string typeTag, Func<T, object?> getState, Func<object?, T> create) where T : class
    {
        ArgumentNullException.ThrowIfNull(getState);
        ArgumentNullException.ThrowIfNull(create);
        return Add(new CopyableType(typeTag, typeof(T), (o, _) => getState((T)o), null, null, s => create(s)));
    }

    /// <summary>
    /// Registers the tag a <c>Pb.Cacheable</c> of type <typeparamref name="T"/> is sent under. Sending only: the
    /// peer registers its <c>RemoteCache</c> type under the same tag with <see cref="Add{T}(string)"/>.
    /// </summary>
    public JellyTypeRegistry AddCacheable<T>(string typeTag) where T : class
    {
        if (string.IsNullOrEmpty(typeTag))
        {
            throw new ArgumentException("A type tag must not be empty.", nameof(typeTag));
        }
        var type = new CopyableType(typeTag, typeof(T), static (_, _) => null, null, null, null);
        lock (_gate)
        {
            _byType = new Dictionary<Type, CopyableType>(_byType) { [typeof(T)] = type };
            _resolved.Clear();
        }
        return this;
    }

    private JellyTypeRegistry Add(CopyableType type)
    {
        if (string.IsNullOrEmpty(type.Tag))
        {
            throw new ArgumentException("A type tag must not be empty.", nameof(type));
        }
        lock (_gate)
        {
            if (_byTag.ContainsKey(type.Tag))
            {
                throw new ArgumentException($"The type tag '{type.Tag}' is already registered.", nameof(type));
            }
            _byTag = new Dictionary<string, CopyableType>(_byTag, StringComparer.Ordinal) { [type.Tag] = type };
            _byType = new Dictionary<Type, CopyableType>(_byType) { [type.Type] = type };
            _resolved.Clear();
        }
        return this;
    }

    /// <summary>A copy holding the same registrations (so a broker can add its own without changing yours).</summary>
    internal JellyTypeRegistry Clone()
    {
        var copy = new JellyTypeRegistry();
        lock (_gate)
        {
            copy._byTag = new Dictionary<string, CopyableType>(_byTag, StringComparer.Ordinal);
            copy._byType = new Dictionary<Type, CopyableType>(_byType);
        }
        return copy;
    }

    /// <summary>True when <paramref name="typeTag"/> is registered.</summary>
    public bool Contains(string typeTag) => _byTag.ContainsKey(typeTag);

    internal CopyableType? Find(Type type)
    {
        if (_byType.Count == 0)
        {
            return null;
        }
        return _resolved.GetOrAdd(type, static (t, self) =>
        {
            for (Type? current = t; current is not null; current = current.BaseType)
            {
                if (self._byType.TryGetValue(current, out CopyableType? found))
                {
                    return found;
                }
            }
            return null;
        }, this);
    }

    internal CopyableType? Find(ReadOnlySpan<byte> tag)
    {
        Dictionary<string, CopyableType> byTag = _byTag;
        if (byTag.Count == 0 || tag.Length > 512)
        {
            return null;
        }
        Span<char> chars = stackalloc char[tag.Length];
        if (!Encoding.UTF8.TryGetChars(tag, chars, out int n))
        {
            return null;
        }
        return byTag.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars[..n], out CopyableType? found) ? found : null;
    }
}

/// <summary>How one registered type is jellied and rebuilt.</summary>
internal sealed class CopyableType
{
    public CopyableType(string tag, Type type, Func<object, object?, object?> getState, Func<object>? createBlank, Action<object, object?>? setState, Func<object?, object>? create)
    {
        Tag = tag;
        TagUtf8 = Encoding.UTF8.GetBytes(tag);
        Type = type;
        _getState = getState;
        CreateBlank = createBlank;
        _setState = setState;
        Create = create;
    }

    public string Tag { get; }
    public byte[] TagUtf8 { get; }
    public Type Type { get; }
    private readonly Func<object, object?, object?> _getState;

    /// <summary>The state to send; a <see cref="ICopyableFlavor"/> chooses its own, per perspective.</summary>
    public object? GetState(object obj, object? perspective) =>
        obj is ICopyableFlavor flavor ? flavor.GetStateToCopyFor(perspective) : _getState(obj, perspective);

    /// <summary>The tag to send; a <see cref="ICopyableFlavor"/> may choose its own.</summary>
    public byte[] TagFor(object obj, object? perspective) =>
        obj is ICopyableFlavor flavor && flavor.GetTypeToCopyFor(perspective) is { } tag && tag != Tag ? Encoding.UTF8.GetBytes(tag) : TagUtf8;

    /// <summary>Blank instance then state (lets a state refer back to its own object), or null to use <see cref="Create"/>.</summary>
    public Func<object>? CreateBlank { get; }

    private readonly Action<object, object?>? _setState;

    /// <summary>Applies received state; a <see cref="ICopyableFlavor"/> takes it itself.</summary>
    public Action<object, object?>? SetState => _setState is null ? null : ApplyState;

    private void ApplyState(object obj, object? state)
    {
        if (obj is ICopyableFlavor flavor)
        {
            flavor.SetCopyableState(state);
        }
        else
        {
            _setState!(obj, state);
        }
    }
    public Func<object?, object>? Create { get; }
}

/// <summary>Public read-write properties and fields of a type, with compiled accessors and wire names.</summary>
internal sealed class MemberMap
{
    private readonly Member[] _members;
    private readonly Dictionary<string, Member> _byName;

    private MemberMap(Type type)
    {
        var members = new List<Member>();
        foreach (MemberInfo info in type.GetMembers(BindingFlags.Instance | BindingFlags.Public).OrderBy(m => m.MetadataToken))
        {
            Type memberType;
            if (info is PropertyInfo p && p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0 && p.GetSetMethod() is not null)
            {
                memberType = p.PropertyType;
            }
            else if (info is FieldInfo f && !f.IsInitOnly && !f.IsLiteral)
            {
                memberType = f.FieldType;
            }
            else
            {
                continue;
            }
            string name = info.GetCustomAttribute<PbNameAttribute>()?.Name ?? CamelCase(info.Name);
            members.Add(new Member(name, memberType, CompileGetter(type, info), CompileSetter(type, info, memberType)));
        }
        _members = members.ToArray();
        _byName = _members.ToDictionary(m => m.Name, StringComparer.Ordinal);
    }

    private static readonly ConcurrentDictionary<Type, MemberMap> s_maps = new();

    public static MemberMap For(Type type) => s_maps.GetOrAdd(type, static t => new MemberMap(t));

    public object? GetState(object obj)
    {
        var state = new PbDictionary(_members.Length);
        foreach (Member m in _members)
        {
            state[m.Name] = m.Get(obj);
        }
        return state;
    }

    public void SetState(object obj, object? state)
    {
        if (state is not PbDictionary dict)
        {
            throw new JellyException($"The state of {obj.GetType().Name} must be a dictionary, not {PbValueFormatter.PythonTypeName(state)}.");
        }
        foreach (KeyValuePair<object?, object?> entry in dict)
        {
            string? key = entry.Key switch
            {
                string s => s,
                byte[] b => Encoding.UTF8.GetString(b),
                _ => null,
            };
            if (key is not null && _byName.TryGetValue(key, out Member? member))
            {
                object? value;
                try
                {
                    value = JellyConvert.To(entry.Value, member.Type);
                }
                catch (JellyException e)
                {
                    throw new JellyException($"Cannot set {obj.GetType().Name}.{member.Name}: {e.Message}", e);
                }
                member.Set(obj, value);
            }
        }
    }

    internal static string CamelCase(string name) =>
        name.Length == 0 || char.IsLower(name[0]) ? name : char.ToLowerInvariant(name[0]) + name[1..];

    private static Func<object, object?> CompileGetter(Type type, MemberInfo info)
    {
        ParameterExpression obj = Expression.Parameter(typeof(object));
        Expression access = Expression.MakeMemberAccess(Expression.Convert(obj, type), info);
        return Expression.Lambda<Func<object, object?>>(Expression.Convert(access, typeof(object)), obj).Compile();
    }

    private static Action<object, object?> CompileSetter(Type type, MemberInfo info, Type memberType)
    {
        ParameterExpression obj = Expression.Parameter(typeof(object));
        ParameterExpression value = Expression.Parameter(typeof(object));
        Expression assign = Expression.Assign(Expression.MakeMemberAccess(Expression.Convert(obj, type), info), Expression.Convert(value, memberType));
        return Expression.Lambda<Action<object, object?>>(assign, obj, value).Compile();
    }

    private sealed record Member(string Name, Type Type, Func<object, object?> Get, Action<object, object?> Set);
}

/// <summary>
/// Implemented by the Copyable flavor (<c>Pb.Copyable</c>) so that jelly can ask an object for its own tag and
/// state per perspective, and hand received state back to it, without depending on the flavors.
/// </summary>
internal interface ICopyableFlavor
{
    string? GetTypeToCopyFor(object? perspective);

    object? GetStateToCopyFor(object? perspective);

    void SetCopyableState(object? state);
}
