using System.Collections.Concurrent;
using System.Reflection;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pb.AspNetCore;

/// <summary>
/// <c>[Authorize]</c> on <see cref="RemoteAttribute"/> methods and on the classes that hold them (avatars, Viewables,
/// any Referenceable), evaluated with the app's <see cref="IAuthorizationService"/> against the caller's
/// <see cref="PbCallContext.User"/>, as SignalR does for hub methods. <c>[AllowAnonymous]</c> on a method lifts its
/// class's requirement. A refused call gets the error <c>twisted.cred.error.Unauthorized</c>; the connection stays.
/// The policy of each method is worked out once; methods without attributes skip this filter entirely.
/// </summary>
internal sealed class PbAuthorizationFilter(IServiceProvider services, ILogger<PbConnectionHandler> logger) : IPbCallFilter
{
    /// <summary>The error type refused calls get (Twisted's <c>twisted.cred.error.Unauthorized</c>).</summary>
    public const string UnauthorizedErrorType = "twisted.cred.error.Unauthorized";

    private readonly ConcurrentDictionary<(Type, MethodInfo), Task<AuthorizationPolicy?>> _policies = new();

    public bool AppliesTo(Type targetType, MethodInfo method) => AuthorizeData(targetType, method).Count > 0;

    public async ValueTask<object?> InvokeAsync(PbCallContext context, Func<PbCallContext, ValueTask<object?>> next)
    {
        AuthorizationPolicy? policy = await _policies.GetOrAdd((context.Target.GetType(), context.Method), static (key, self) => self.PolicyForAsync(key.Item1, key.Item2), this).ConfigureAwait(false);
        if (policy is not null)
        {
            IAuthorizationService authorization = services.GetService<IAuthorizationService>()
                ?? throw new InvalidOperationException("[Authorize] on a remote method needs the authorization services: call 'services.AddAuthorization()'.");
            AuthorizationResult result = await authorization.AuthorizeAsync(context.User, context, policy).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                PerspectiveBrokerLog.CallRefused(logger, context.MethodName, context.Connection.ConnectionId);
                throw new PbException($"Not authorized to call {context.MethodName}.") { RemoteTypeName = UnauthorizedErrorType };
            }
        }
        return await next(context).ConfigureAwait(false);
    }

    private async Task<AuthorizationPolicy?> PolicyForAsync(Type targetType, MethodInfo method)
    {
        List<IAuthorizeData> data = AuthorizeData(targetType, method);
        if (data.Count == 0)
        {
            return null;
        }
        IAuthorizationPolicyProvider provider = services.GetService<IAuthorizationPolicyProvider>()
            ?? throw new InvalidOperationException("[Authorize] on a remote method needs the authorization services: call 'services.AddAuthorization()'.");
        return await AuthorizationPolicy.CombineAsync(provider, data).ConfigureAwait(false);
    }

    /// <summary>The class's and the method's <c>[Authorize]</c>, or none when the method allows anonymous callers.</summary>
    private static List<IAuthorizeData> AuthorizeData(Type targetType, MethodInfo method)
    {
        if (method.GetCustomAttributes(inherit: true).OfType<IAllowAnonymous>().Any())
        {
            return [];
        }
        return [.. targetType.GetCustomAttributes(inherit: true).OfType<IAuthorizeData>(), .. method.GetCustomAttributes(inherit: true).OfType<IAuthorizeData>()];
    }
}
