using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Linq.Expressions;
using System.Reflection;
using System.Text;
using Pb.Jelly;

namespace Pb;

/// <summary>
/// The remotely callable methods of one type, found once per type (no reflection or name building per call).
/// </summary>
internal sealed class RemoteMethodTable
{
    private static readonly ConcurrentDictionary<Type, RemoteMethodTable> s_tables = new();

    private readonly FrozenDictionary<string, RemoteMethod> _methods;
    private readonly FrozenDictionary<string, RemoteMethod>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private RemoteMethodTable(Type type)
    {
        var methods = new Dictionary<string, RemoteMethod>(StringComparer.Ordinal);
        foreach (MethodInfo method in type.GetMethods(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            RemoteAttribute? attribute = method.GetCustomAttribute<RemoteAttribute>(inherit: true);
            if (attribute is null)
            {
                continue;
            }
            string name = attribute.Name ?? DefaultName(method.Name);
            if (!methods.TryAdd(name, new RemoteMethod(name, method, firstIsPerspective: typeof(Viewable).IsAssignableFrom(type), targetType: type)))
            {
                throw new InvalidOperationException($"{type.FullName} has two remote methods named '{name}'. Give one another name with [Remote(\"...\")].");
            }
        }
        _methods = methods.ToFrozenDictionary(StringComparer.Ordinal);
        _lookup = _methods.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public static RemoteMethodTable For(Type type) => s_tables.GetOrAdd(type, static t => new RemoteMethodTable(t));

    /// <summary>Every remote method, by wire name (for tools: the TypeScript contract generator).</summary>
    internal IEnumerable<RemoteMethod> Methods => _methods.Values.OrderBy(m => m.Name, StringComparer.Ordinal);

    /// <summary>Finds a method by its UTF-8 wire name without allocating.</summary>
    public RemoteMethod? Find(ReadOnlySpan<byte> utf8Name)
    {
        if (utf8Name.Length > 256)
        {
            return null;
        }
        Span<char> chars = stackalloc char[utf8Name.Length];
        if (!Encoding.UTF8.TryGetChars(utf8Name, chars, out int n))
        {
            return null;
        }
        return _lookup.TryGetValue(chars[..n], out RemoteMethod? method) ? method : null;
    }

    internal static string DefaultName(string methodName)
    {
        if (methodName.EndsWith("Async", StringComparison.Ordinal) && methodName.Length > 5)
        {
            methodName = methodName[..^5];
        }
        return MemberMap.CamelCase(methodName);
    }
}

/// <summary>One remote method: its parameters, a compiled invoker and a compiled result unwrapper.</summary>
internal sealed class RemoteMethod
{
    private static readonly MethodInfo s_fromTask = typeof(RemoteMethod).GetMethod(nameof(FromTaskOf), BindingFlags.NonPublic | BindingFlags.Static)!;
    private static readonly MethodInfo s_fromValueTask = typeof(RemoteMethod).GetMethod(nameof(FromValueTaskOf), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly Func<object, object?[], object?> _invoke;
    private readonly Func<object?, ValueTask<object?>>? _unwrap;
    private readonly Parameter[] _parameters;
    private readonly int _wireParameterCount;
    private readonly bool _simple;

    public RemoteMethod(string name, MethodInfo method, bool firstIsPerspective = false, Type? targetType = null)
    {
        Name = name;
        TargetType = targetType ?? method.DeclaringType!;
        ParameterInfo[] parameters = method.GetParameters();
        if (firstIsPerspective && parameters.Length == 0)
        {
            throw new InvalidOperationException($"Remote method {method.DeclaringType?.Name}.{method.Name} of a Viewable must take the perspective as its first parameter.");
        }
        _parameters = new Parameter[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            ParameterInfo p = parameters[i];
            ParameterKind kind = firstIsPerspective && i == 0 ? ParameterKind.Perspective
                : p.ParameterType == typeof(CancellationToken) ? ParameterKind.CancellationToken
                : p.ParameterType == typeof(PbCallContext) ? ParameterKind.CallContext
                : IsFromServices(p, out _) ? ParameterKind.Service
                : ParameterKind.Wire;
            _parameters[i] = new Parameter(
                p.GetCustomAttribute<PbNameAttribute>()?.Name ?? p.Name ?? $"arg{i}",
                p.ParameterType,
                p.HasDefaultValue || IsNullable(p),
                p.HasDefaultValue ? (p.DefaultValue is DBNull ? null : p.DefaultValue) : null,
                kind);
            if (kind == ParameterKind.Wire)
            {
                _wireParameterCount++;
            }
        }
        _simple = Array.TrueForAll(_parameters, p => p.Kind == ParameterKind.Wire);
        Jelly.TypedPlan?[] plans = [.. _parameters.Where(p => p.Kind == ParameterKind.Wire).Select(p => Jelly.TypedPlan.For(p.Type))];
        WirePlans = Array.Exists(plans, p => p is not null) ? plans : null;
        NeedsContext = Array.Exists(_parameters, p => p.Kind is ParameterKind.CallContext or ParameterKind.Service);
        _serviceKeys = Array.ConvertAll(parameters, p => IsFromServices(p, out object? key) ? key : null);
        Method = method;
        _invoke = CompileInvoker(method, parameters);
        _unwrap = CompileUnwrap(method.ReturnType);
    }

    public string Name { get; }

    /// <summary>The .NET method.</summary>
    public MethodInfo Method { get; }

    /// <summary>The type whose method table holds this method (the callee's type).</summary>
    public Type TargetType { get; }

    /// <summary>Whether a parameter takes the <see cref="PbCallContext"/> or a service.</summary>
    public bool NeedsContext { get; }

    /// <summary>The parameters a peer passes (no perspective, cancellation token, context or services), in order.</summary>
    internal IEnumerable<(string Name, Type Type, bool IsOptional)> WireParameters =>
        _parameters.Where(p => p.Kind == ParameterKind.Wire).Select(p => (p.Name, p.Type, p.IsOptional));

    /// <summary>How each positional argument is read straight into its parameter's type (null: generic); null when none is typed.</summary>
    internal Jelly.TypedPlan?[]? WirePlans { get; }

    private readonly object?[] _serviceKeys;
    private FilterChoice? _filters;   // the filters of the last list asked for that apply to this method

    private sealed record FilterChoice(IPbCallFilter[] All, IPbCallFilter[] Applicable);

    /// <summary>The filters of <paramref name="all"/> that apply to this method (asked once per list, then remembered).</summary>
    public IPbCallFilter[] FiltersFrom(IPbCallFilter[] all)
    {
        if (all.Length == 0)
        {
            return all;
        }
        FilterChoice? choice = Volatile.Read(ref _filters);
        if (choice is null || !ReferenceEquals(choice.All, all))
        {
            choice = new FilterChoice(all, Array.FindAll(all, f => f.AppliesTo(TargetType, Method)));
            Volatile.Write(ref _filters, choice);
        }
        return choice.Applicable;
    }

    /// <summary>
    /// A parameter marked as a service: ASP.NET's <c>[FromServices]</c> (anything implementing <c>IFromServiceMetadata</c>)
    /// or <c>[FromKeyedServices]</c>, as SignalR hub methods take them.
    /// </summary>
    private static bool IsFromServices(ParameterInfo p, out object? key)
    {
        key = null;
        foreach (object attribute in p.GetCustomAttributes(inherit: true))
        {
            if (attribute is Microsoft.Extensions.DependencyInjection.FromKeyedServicesAttribute keyed)
            {
                key = keyed.Key;
                return true;
            }
            if (Array.Exists(attribute.GetType().GetInterfaces(), static i => i.FullName == "Microsoft.AspNetCore.Http.Metadata.IFromServiceMetadata"))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Fills the parameters that take <paramref name="context"/> or a service from its call scope.</summary>
    /// <exception cref="InvalidOperationException">A service is not registered.</exception>
    public void BindContext(object?[] bound, PbCallContext context)
    {
        for (int i = 0; i < _parameters.Length; i++)
        {
            switch (_parameters[i].Kind)
            {
                case ParameterKind.CallContext:
                    bound[i] = context;
                    break;
                case ParameterKind.Service:
                    bound[i] = _serviceKeys[i] is { } key
                        ? Microsoft.Extensions.DependencyInjection.ServiceProviderKeyedServiceExtensions.GetRequiredKeyedService(context.Services, _parameters[i].Type, key)
                        : context.Services.GetService(_parameters[i].Type)
                            ?? throw new InvalidOperationException($"{Name}() parameter '{_parameters[i].Name}': no service of type {_parameters[i].Type.FullName} is registered.");
                    break;
            }
        }
    }

    /// <summary>Binds positional and keyword arguments to the parameters, Python style.</summary>
    /// <exception cref="PbException">Wrong count, unknown keyword, or a value of the wrong type (a TypeError for the peer).</exception>
    public object?[] Bind(PbTuple args, PbDictionary? kwargs, CancellationToken cancellationToken, object? perspective = null)
    {
        if (args.Count > _wireParameterCount)
        {
            throw TypeError($"{Name}() takes {_wireParameterCount} positional argument{(_wireParameterCount == 1 ? "" : "s")} but {args.Count} {(args.Count == 1 ? "was" : "were")} given");
        }
        if (_simple && args.Count == _parameters.Length && (kwargs is null || kwargs.Count == 0))
        {
            // The common case: every parameter comes positionally from the wire.
            var direct = new object?[_parameters.Length];
            for (int i = 0; i < direct.Length; i++)
            {
                direct[i] = Convert(args[i], i);
            }
            return direct;
        }
        var bound = new object?[_parameters.Length];
        var filled = new bool[_parameters.Length];
        int positional = 0;
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (_parameters[i].Kind == ParameterKind.CancellationToken)
            {
                bound[i] = cancellationToken;
                filled[i] = true;
            }
            else if (_parameters[i].Kind is ParameterKind.CallContext or ParameterKind.Service)
            {
                filled[i] = true; // BindContext fills them
            }
            else if (_parameters[i].Kind == ParameterKind.Perspective)
            {
                if (perspective is not null && !_parameters[i].Type.IsInstanceOfType(perspective))
                {
                    throw TypeError($"{Name}() is not available to this perspective");
                }
                bound[i] = perspective;
                filled[i] = true;
            }
            else if (positional < args.Count)
            {
                bound[i] = Convert(args[positional++], i);
                filled[i] = true;
            }
        }
        if (kwargs is not null)
        {
            foreach (KeyValuePair<object?, object?> entry in kwargs)
            {
                string key = entry.Key switch
                {
                    string s => s,
                    byte[] b => Encoding.UTF8.GetString(b),
                    _ => throw TypeError($"{Name}() keywords must be strings"),
                };
                int index = Array.FindIndex(_parameters, p => p.Kind == ParameterKind.Wire && p.Name == key);
                if (index < 0)
                {
                    throw TypeError($"{Name}() got an unexpected keyword argument '{key}'");
                }
                if (filled[index])
                {
                    throw TypeError($"{Name}() got multiple values for argument '{key}'");
                }
                bound[index] = Convert(entry.Value, index);
                filled[index] = true;
            }
        }
        for (int i = 0; i < _parameters.Length; i++)
        {
            if (!filled[i])
            {
                if (!_parameters[i].IsOptional)
                {
                    throw TypeError($"{Name}() missing required argument: '{_parameters[i].Name}'");
                }
                bound[i] = _parameters[i].Default ?? (_parameters[i].Type.IsValueType ? Activator.CreateInstance(_parameters[i].Type) : null);
            }
        }
        return bound;
    }

    private object? Convert(object? value, int index)
    {
        Type type = _parameters[index].Type;
        if (type == typeof(object) || (value is not null && value.GetType() == type))
        {
            return value;
        }
        try
        {
            return JellyConvert.To(value, _parameters[index].Type);
        }
        catch (JellyException e)
        {
            throw TypeError($"{Name}() argument '{_parameters[index].Name}': {e.Message}");
        }
    }

    private static PbException TypeError(string message) => new(message) { RemoteTypeName = "builtins.TypeError" };

    /// <summary>Calls the method; the result completes with the (unwrapped) return value.</summary>
    public ValueTask<object?> InvokeAsync(object target, object?[] arguments)
    {
        object? result = _invoke(target, arguments);
        return _unwrap is null ? new ValueTask<object?>(result) : _unwrap(result);
    }

    private static bool IsNullable(ParameterInfo p) =>
        !p.ParameterType.IsValueType
            ? new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable
            : Nullable.GetUnderlyingType(p.ParameterType) is not null;

    private static Func<object, object?[], object?> CompileInvoker(MethodInfo method, ParameterInfo[] parameters)
    {
        ParameterExpression target = Expression.Parameter(typeof(object), "target");
        ParameterExpression args = Expression.Parameter(typeof(object?[]), "args");
        var arguments = new Expression[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
        {
            arguments[i] = Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), parameters[i].ParameterType);
        }
        Expression call = Expression.Call(Expression.Convert(target, method.DeclaringType!), method, arguments);
        Expression body = method.ReturnType == typeof(void)
            ? Expression.Block(call, Expression.Constant(null, typeof(object)))
            : Expression.Convert(call, typeof(object));
        return Expression.Lambda<Func<object, object?[], object?>>(body, target, args).Compile();
    }

    private static Func<object?, ValueTask<object?>>? CompileUnwrap(Type returnType)
    {
        if (returnType == typeof(Task))
        {
            return static r => FromTask((Task)r!);
        }
        if (returnType == typeof(ValueTask))
        {
            return static r => FromValueTask((ValueTask)r!);
        }
        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
        {
            return s_fromTask.MakeGenericMethod(returnType.GetGenericArguments()[0]).CreateDelegate<Func<object?, ValueTask<object?>>>();
        }
        if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(ValueTask<>))
        {
            return s_fromValueTask.MakeGenericMethod(returnType.GetGenericArguments()[0]).CreateDelegate<Func<object?, ValueTask<object?>>>();
        }
        return null;
    }

    private static async ValueTask<object?> FromTask(Task task)
    {
        await task.ConfigureAwait(false);
        return null;
    }

    private static async ValueTask<object?> FromValueTask(ValueTask task)
    {
        await task.ConfigureAwait(false);
        return null;
    }

    private static ValueTask<object?> FromTaskOf<T>(object? result)
    {
        var task = (Task<T>)result!;
        return task.IsCompletedSuccessfully ? new ValueTask<object?>(task.Result) : Await(task);

        static async ValueTask<object?> Await(Task<T> t) => await t.ConfigureAwait(false);
    }

    private static ValueTask<object?> FromValueTaskOf<T>(object? result)
    {
        var task = (ValueTask<T>)result!;
        return task.IsCompletedSuccessfully ? new ValueTask<object?>(task.Result) : Await(task);

        static async ValueTask<object?> Await(ValueTask<T> t) => await t.ConfigureAwait(false);
    }

    private enum ParameterKind : byte { Wire, CancellationToken, Perspective, CallContext, Service }

    private sealed record Parameter(string Name, Type Type, bool IsOptional, object? Default, ParameterKind Kind);
}
