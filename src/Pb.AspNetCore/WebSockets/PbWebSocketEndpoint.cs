using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pb;
using Pb.Banana;
using Pb.Cred;
using Pb.AspNetCore;

namespace Pb.AspNetCore;

/// <summary>
/// The WebSocket side of a PB endpoint: the Origin check (cross-site WebSocket hijacking), the choice of sub-protocol,
/// the accept with keep-alive, and the hand-over of the socket's pipe to the connection handler shared with TCP.
/// </summary>
internal static class PbWebSocketEndpoint
{
    /// <summary>
    /// When the upgrade request's identity expires: the earlier of the JWT's <c>exp</c> claim and the authentication
    /// ticket's expiry (a cookie's), or null when it has neither.
    /// </summary>
    private static DateTimeOffset? IdentityExpiry(HttpContext context)
    {
        DateTimeOffset? claim = TokenExpiry.Of(context.User);
        DateTimeOffset? ticket = context.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult?.Properties?.ExpiresUtc;
        return claim is null ? ticket : ticket is null ? claim : (claim < ticket ? claim : ticket);
    }

    /// <summary>Same origin, a listed origin, or no Origin header at all (not a browser).</summary>
    private static bool IsOriginAllowed(HttpContext context, PerspectiveBrokerOptions options)
    {
        string? origin = context.Request.Headers.Origin;
        if (string.IsNullOrEmpty(origin))
        {
            return true;
        }
        string own = $"{context.Request.Scheme}://{context.Request.Host}";
        return string.Equals(origin, own, StringComparison.OrdinalIgnoreCase)
            || options.AllowedOrigins.Any(allowed => string.Equals(origin, allowed.TrimEnd('/'), StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The server's choice among the sub-protocols the client offered: <c>pb.banana</c> first, then the options' others
    /// in order. True with no sub-protocol (and banana) when the client offered none.
    /// </summary>
    private static bool TryChooseSubProtocol(IList<string> requested, PerspectiveBrokerOptions options, out string? chosen, out IBananaTranscoder? transcoder)
    {
        transcoder = null;
        chosen = null;
        if (requested.Count == 0)
        {
            return true;
        }
        if (requested.Contains(WebSocketPipe.BananaSubProtocol))
        {
            chosen = WebSocketPipe.BananaSubProtocol;
            return true;
        }
        foreach (IBananaTranscoder candidate in options.SubProtocols)
        {
            if (requested.Contains(candidate.SubProtocol))
            {
                chosen = candidate.SubProtocol;
                transcoder = candidate;
                return true;
            }
        }
        return false;
    }

    private static string SupportedSubProtocols(PerspectiveBrokerOptions options)
    {
        var names = new List<string> { WebSocketPipe.BananaSubProtocol };
        foreach (IBananaTranscoder transcoder in options.SubProtocols)
        {
            names.Add(transcoder.SubProtocol);
        }
        return string.Join(", ", names);
    }

    /// <summary>One PB WebSocket request: checks, accept, then the connection runs through <see cref="PbConnectionHandler"/>.</summary>
    public static async Task HandleAsync(HttpContext context, PerspectiveBrokerOptions options)
    {
        ILogger logger = context.RequestServices.GetRequiredService<PbConnectionHandler>().Logger;
        if (!context.WebSockets.IsWebSocketRequest)
        {
            PerspectiveBrokerLog.NotWebSocket(logger);
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync($"This is a Perspective Broker endpoint: connect with a WebSocket (sub-protocols: {SupportedSubProtocols(options)}).", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (!IsOriginAllowed(context, options))
        {
            PerspectiveBrokerLog.OriginRefused(logger, context.Request.Headers.Origin.ToString());
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("This origin may not open a Perspective Broker connection (PerspectiveBrokerOptions.AllowedOrigins).", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (!TryChooseSubProtocol(context.WebSockets.WebSocketRequestedProtocols, options, out string? subProtocol, out IBananaTranscoder? transcoder))
        {
            if (logger.IsEnabled(LogLevel.Information))
            {
#pragma warning disable CA1873 // guarded by IsEnabled just above
                PerspectiveBrokerLog.SubProtocolRefused(logger, string.Join(", ", context.WebSockets.WebSocketRequestedProtocols));
#pragma warning restore CA1873
            }
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync($"Unsupported WebSocket sub-protocol: this endpoint speaks {SupportedSubProtocols(options)}.", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        if (options.RootFactory is null)
        {
            throw new InvalidOperationException("No root object: call UseRoot(...) or UsePortal(...) on the builder AddPerspectiveBroker returned.");
        }
        WebSocket socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = subProtocol,
            KeepAliveInterval = options.KeepAliveInterval,
            KeepAliveTimeout = options.PeerTimeout,
        }).ConfigureAwait(false);
        var pipe = new WebSocketPipe(socket, transcoder, options.Broker.BananaLimits);
        EndPoint? remote = context.Connection.RemoteIpAddress is { } address ? new IPEndPoint(address, context.Connection.RemotePort) : null;
        await context.RequestServices.GetRequiredService<PbConnectionHandler>().RunAsync(new PbConnectionStart(
            pipe, pipe, options, context.RequestServices, context.User, IdentityExpiry(context),
            context.Connection.Id, "websocket", remote, context.RequestAborted)).ConfigureAwait(false);
    }
}
