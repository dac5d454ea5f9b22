using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Pb.AspNetCore;

/// <summary>JWT bearer tokens for PB connections.</summary>
public static class PerspectiveBrokerJwt
{
    /// <summary>
    /// For <see cref="JwtBearerEvents.OnMessageReceived"/>: browsers cannot set headers on a WebSocket request, so on a
    /// WebSocket upgrade the token is read from the <c>access_token</c> query parameter (as SignalR does).
    /// <c>AddPerspectiveBroker</c> redacts <c>access_token</c> values in every log line; proxies' access logs are yours to keep clean.
    /// </summary>
    public static Task ReadAccessTokenFromQuery(MessageReceivedContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // Authentication runs before the endpoint's WebSocket middleware, so look at the upgrade header itself.
        bool upgrade = context.HttpContext.WebSockets.IsWebSocketRequest
            || context.Request.Headers.Upgrade.Any(v => string.Equals(v, "websocket", StringComparison.OrdinalIgnoreCase));
        if (upgrade && context.Request.Query.TryGetValue("access_token", out var token) && token.Count == 1)
        {
            context.Token = token[0];
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Accepts <c>loginToken(token, mind)</c> on every PB connection (raw TCP included) by running the app's own
    /// authentication handler for <paramref name="scheme"/> on the token, as if it came in an
    /// <c>Authorization: Bearer</c> header: the same validation parameters and authority metadata, the scheme's
    /// events (<c>OnTokenValidated</c>, where apps revoke tokens; <c>OnAuthenticationFailed</c>) and the app's
    /// <c>IClaimsTransformation</c>, each login in its own DI scope. A service on TCP authenticates like a browser.
    /// The portal needs a <c>ClaimsIdentityChecker</c>; with <see cref="PerspectiveBrokerOptions.CloseOnTokenExpiry"/>
    /// the connection closes when the token expires.
    /// </summary>
    public static IPerspectiveBrokerBuilder AddJwtTokenLogin(this IPerspectiveBrokerBuilder builder, string scheme = JwtBearerDefaults.AuthenticationScheme)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(scheme);
        builder.Services.AddSingleton<IConfigureOptions<PerspectiveBrokerOptions>>(sp => new ConfigureOptions<PerspectiveBrokerOptions>(o =>
        {
            var scopes = sp.GetRequiredService<IServiceScopeFactory>();
            o.Portal.TokenValidator = (token, cancellationToken) => AuthenticateAsync(scopes, scheme, token, cancellationToken);
        }));
        return builder;
    }

    private static async ValueTask<ClaimsPrincipal?> AuthenticateAsync(IServiceScopeFactory scopes, string scheme, string token, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(token) || token.Any(char.IsControl))
        {
            return null;
        }
        await using AsyncServiceScope scope = scopes.CreateAsyncScope();
        var context = new DefaultHttpContext
        {
            RequestServices = scope.ServiceProvider,
            RequestAborted = cancellationToken,
        };
        context.Request.Headers.Authorization = "Bearer " + token;
        IAuthenticationService authentication = scope.ServiceProvider.GetRequiredService<IAuthenticationService>();
        AuthenticateResult result = await authentication.AuthenticateAsync(context, scheme).ConfigureAwait(false);
        return result.Succeeded ? result.Principal : null;
    }
}
