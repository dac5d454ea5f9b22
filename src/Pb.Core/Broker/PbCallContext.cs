using System.Reflection;
using System.Security.Claims;
using Microsoft.Extensions.DependencyInjection;

namespace Pb;

/// <summary>
/// One call a peer made, as filters and the method see it (SignalR's <c>HubInvocationContext</c> and
/// <c>HubCallerContext</c> in one): the caller, the connection, the method and its arguments. A remote method gets it
/// by taking a parameter of this type. It lives for the call; its <see cref="Services"/> scope ends with the call.
/// </summary>
public sealed class PbCallContext : IAsyncDisposable
{
    private readonly IServiceScopeFactory? _scopes;
    private AsyncServiceScope? _scope;
    private Dictionary<object, object?>? _items;

    internal PbCallContext(IPbConnection connection, RemoteMethod method, object target, object? perspective, object?[] arguments, bool isOneWay,
        Func<object?, ClaimsPrincipal> userFor, IServiceScopeFactory? scopes, CancellationToken callAborted)
    {
        Connection = connection;
        RemoteMethod = method;
        Target = target;
        Perspective = perspective;
        ArgumentValues = arguments;
        IsOneWay = isOneWay;
        User = userFor(perspective); // who called when the call came, whatever logins happen during it
        _scopes = scopes;
        CallAborted = callAborted;
    }

    internal RemoteMethod RemoteMethod { get; }

    internal object?[] ArgumentValues { get; }

    /// <summary>The connection the call came on.</summary>
    public IPbConnection Connection { get; }

    /// <summary>
    /// Who calls: the user of the login whose avatar is <see cref="Perspective"/>, else the connection's latest login,
    /// else the user the transport authenticated; an unauthenticated principal when there is none.
    /// </summary>
    public ClaimsPrincipal User { get; }

    /// <summary>The object called (the <see cref="Viewable"/> itself for a view).</summary>
    public object Target { get; }

    /// <summary>The avatar the call runs for: the avatar called, or the one a Viewable was sent for; else null.</summary>
    public object? Perspective { get; }

    /// <summary>The wire name of the method (<c>"addOne"</c>).</summary>
    public string MethodName => RemoteMethod.Name;

    /// <summary>The .NET method that runs.</summary>
    public MethodInfo Method => RemoteMethod.Method;

    /// <summary>The values bound to the method's parameters, in order (the perspective, this context and services included).</summary>
    public IReadOnlyList<object?> Arguments => ArgumentValues;

    /// <summary>Whether the caller asked for no answer.</summary>
    public bool IsOneWay { get; }

    /// <summary>Cancelled when the connection closes.</summary>
    public CancellationToken CallAborted { get; }

    /// <summary>Values filters and the method share during this call.</summary>
    public IDictionary<object, object?> Items => _items ??= [];

    /// <summary>
    /// The call's services: a DI scope made for this call on first use and disposed when it ends (as SignalR makes
    /// one per hub invocation), so a scoped service (a DbContext) is never shared by two calls. Without a host's
    /// services, an empty provider.
    /// </summary>
    public IServiceProvider Services
    {
        get
        {
            if (_scopes is null)
            {
                return EmptyServices.Instance;
            }
            _scope ??= _scopes.CreateAsyncScope();
            return _scope.Value.ServiceProvider;
        }
    }

    /// <summary>Ends the call's service scope, if one was made.</summary>
    public ValueTask DisposeAsync()
    {
        AsyncServiceScope? scope = _scope;
        _scope = null;
        return scope?.DisposeAsync() ?? default;
    }

    private sealed class EmptyServices : IServiceProvider
    {
        public static readonly EmptyServices Instance = new();

        public object? GetService(Type serviceType) => null;
    }
}
