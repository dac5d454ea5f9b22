using System.Net;
using System.Security.Claims;

namespace Pb;

/// <summary>
/// One PB connection as the application sees it: who is on it and how it came. <see cref="PbConnection"/> is one;
/// a call's <see cref="PbCallContext.Connection"/> and Pb.AspNetCore's connection list hand it out.
/// </summary>
public interface IPbConnection
{
    /// <summary>A name unique among the process's connections (the host's connection id when it has one).</summary>
    string ConnectionId { get; }

    /// <summary>How the peer came: <c>"tcp"</c> or <c>"websocket"</c>.</summary>
    string TransportName { get; }

    /// <summary>The peer's address, when the transport knows it.</summary>
    EndPoint? RemoteEndPoint { get; }

    /// <summary>The user the transport authenticated (a WebSocket upgrade's JWT or cookie), or null.</summary>
    ClaimsPrincipal? User { get; }

    /// <summary>The logins on this connection now, oldest first (a portal adds one for each avatar handed out).</summary>
    IReadOnlyList<PbLogin> Logins { get; }

    /// <summary>False once the connection is closing or closed.</summary>
    bool IsConnected { get; }

    /// <summary>Cancelled when the connection closes.</summary>
    CancellationToken Disconnected { get; }

    /// <summary>Closes the connection (what is queued is sent first).</summary>
    ValueTask CloseAsync();
}
