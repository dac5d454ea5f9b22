using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Pb.AspNetCore;

/// <summary>JWT bearer tokens for PB connections.</summary>
public static class PerspectiveBrokerJwt
{
    /// <summary>
    /// For <see cref="JwtBearerEvents.OnMessageReceived"/>: browsers cannot set headers on a WebSocket request, so on a
    /// WebSocket upgrade the token is read from the <c>access_token</c> query parameter (as SignalR does). Keep query
    /// strings out of request logs when you use it.
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
    /// Accepts <c>loginToken(token, mind)</c> on every PB connection (raw TCP included), validating the token with the
    /// app's JwtBearer configuration for <paramref name="scheme"/>: a service on TCP authenticates like a browser.
    /// The portal needs a <c>ClaimsIdentityChecker</c>.
    /// </summary>
    public static IPerspectiveBrokerBuilder AddJwtTokenLogin(this IPerspectiveBrokerBuilder builder, string scheme = JwtBearerDefaults.AuthenticationScheme)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<IConfigureOptions<PerspectiveBrokerOptions>>(sp => new ConfigureOptions<PerspectiveBrokerOptions>(o =>
        {
            var monitor = sp.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>();
            o.Portal.TokenValidator = (token, _) => ValidateAsync(monitor.Get(scheme), token);
        }));
        return builder;
    }

    private static async ValueTask<ClaimsPrincipal?> ValidateAsync(JwtBearerOptions jwt, string token)
    {
        TokenValidationParameters parameters = jwt.TokenValidationParameters.Clone();
        if (jwt.ConfigurationManager is not null)
        {
            // Keys from the authority's metadata, as the HTTP side uses them.
            var configuration = await jwt.ConfigurationManager.GetConfigurationAsync(CancellationToken.None).ConfigureAwait(false);
            parameters.ValidIssuers = [.. parameters.ValidIssuers ?? [], configuration.Issuer];
            parameters.IssuerSigningKeys = [.. parameters.IssuerSigningKeys ?? [], .. configuration.SigningKeys];
        }
        foreach (TokenHandler handler in jwt.TokenHandlers)
        {
            TokenValidationResult result = await handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
            if (result.IsValid)
            {
                return new ClaimsPrincipal(result.ClaimsIdentity);
            }
        }
        return null;
    }
}
