using Microsoft.Extensions.Logging;

namespace Pb.AspNetCore;

/// <summary>
/// The log lines of Pb.AspNetCore (category <c>Pb.AspNetCore.PbConnectionHandler</c>), with event ids that stay
/// stable across versions so alerts can match them. No line carries a token, a password or a message's content.
/// Pb.Core's own lines: 1-3 (connection: protocol error, unexpected error, closed), 10-11 (TCP server), 100-103
/// (broker), 300-302 (login).
/// </summary>
internal static partial class PerspectiveBrokerLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "Refused a PB WebSocket from origin {Origin}: not the endpoint's own and not in PerspectiveBrokerOptions.AllowedOrigins.")]
    public static partial void OriginRefused(ILogger logger, string origin);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Refused a PB WebSocket: none of the sub-protocols it offered ({Offered}) is served here.")]
    public static partial void SubProtocolRefused(ILogger logger, string offered);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "A request to a PB endpoint was not a WebSocket request.")]
    public static partial void NotWebSocket(ILogger logger);

    [LoggerMessage(EventId = 203, Level = LogLevel.Debug, Message = "PB connection {ConnectionId} opened over {Transport} from {RemoteEndPoint}.")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId, string transport, System.Net.EndPoint? remoteEndPoint);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "PB connection {ConnectionId} ({Transport}) closed: {Reason}.")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, string transport, string reason);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "Refused PB connection {ConnectionId}: the app is stopping or BrokerOptions.MaxConnections are open.")]
    public static partial void ConnectionRefused(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 206, Level = LogLevel.Information, Message = "A call of {Method} on PB connection {ConnectionId} was refused by its authorization policy.")]
    public static partial void CallRefused(ILogger logger, string method, string connectionId);
}
