using Microsoft.Extensions.Logging;

namespace Pb.Cred;

/// <summary>Log lines of PB login, never with a username, password, response or token.</summary>
internal static partial class PortalRootLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "A login failed on PB connection {ConnectionId} ({Failures} of {MaxFailures} allowed).")]
    public static partial void LoginFailed(ILogger logger, string connectionId, int failures, int maxFailures);

    [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Closing PB connection {ConnectionId}: too many failed logins (PortalOptions.MaxFailedLoginsPerConnection).")]
    public static partial void TooManyFailedLogins(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Closing PB connection {ConnectionId}: no login within PortalOptions.LoginTimeout.")]
    public static partial void LoginTimedOut(ILogger logger, string connectionId);
}
