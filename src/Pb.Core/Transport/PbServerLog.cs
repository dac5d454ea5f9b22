using Microsoft.Extensions.Logging;

namespace Pb;

internal static partial class PbServerLog
{
    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Accepting a connection failed ({Reason}); retrying in {DelayMilliseconds} ms.")]
    public static partial void AcceptFailed(ILogger logger, string reason, double delayMilliseconds);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Refused a connection: {MaxConnections} are open (BrokerOptions.MaxConnections).")]
    public static partial void ConnectionRefused(ILogger logger, int maxConnections);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "A TLS handshake failed or timed out; the connection is closed.")]
    public static partial void TlsHandshakeFailed(ILogger logger, Exception exception);
}
