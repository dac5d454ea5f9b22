namespace Pb.AspNetCore;

/// <summary>
/// The app's PB connections, seen from anywhere in the app (a controller, a <c>BackgroundService</c>): what
/// <c>IHubContext</c> is for SignalR. Take it from DI. Pushes through it never throw at the pusher: a peer that is
/// gone or closing is skipped and counted (<c>pb.pushes.dropped</c>).
/// </summary>
public interface IPerspectiveBrokerContext
{
    /// <summary>The open connections now (WebSocket and TCP), each with its identity, transport and address.</summary>
    IReadOnlyList<IPbConnection> Connections { get; }

    /// <summary>Every login of <paramref name="avatarId"/> now, on any connection (a user logged in from two tabs has two).</summary>
    IReadOnlyList<PbLogin> FindLogins(string avatarId);

    /// <summary>Named sets of minds and cache observers to push to with one call.</summary>
    PbGroups Groups { get; }

    /// <summary>
    /// Calls <paramref name="method"/> one-way on the mind (the client object passed at login) of every login of
    /// <paramref name="avatarId"/>: SignalR's <c>Clients.User(id)</c>. Logins without a mind are not counted.
    /// </summary>
    PbPushResult PushToUser(string avatarId, string method, params object?[] args);
}
