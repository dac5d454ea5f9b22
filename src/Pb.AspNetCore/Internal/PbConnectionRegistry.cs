using Microsoft.Extensions.Hosting;

namespace Pb.AspNetCore;

/// <summary>
/// The open PB connections of the app (WebSocket and TCP), behind <see cref="IPerspectiveBrokerContext"/>. They are
/// closed together when the app stops: their pending calls fail with a clear <see cref="ConnectionLostException"/>
/// instead of hanging until the host gives up.
/// </summary>
internal sealed class PbConnectionRegistry : IPerspectiveBrokerContext, IDisposable
{
    private readonly HashSet<PbConnection> _connections = [];
    private readonly CancellationTokenRegistration _stopping;
    private bool _stopped;

    public PbConnectionRegistry(IHostApplicationLifetime lifetime, PbGroups groups)
    {
        Groups = groups;
        _stopping = lifetime.ApplicationStopping.Register(static r => ((PbConnectionRegistry)r!).CloseAll(), this);
    }

    public PbGroups Groups { get; }

    /// <summary>The open connections.</summary>
    public int Count
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    public IReadOnlyList<IPbConnection> Connections
    {
        get
        {
            lock (_connections)
            {
                return [.. _connections];
            }
        }
    }

    public IReadOnlyList<PbLogin> FindLogins(string avatarId)
    {
        ArgumentNullException.ThrowIfNull(avatarId);
        var found = new List<PbLogin>();
        foreach (IPbConnection connection in Connections)
        {
            foreach (PbLogin login in connection.Logins)
            {
                if (string.Equals(login.AvatarId, avatarId, StringComparison.Ordinal))
                {
                    found.Add(login);
                }
            }
        }
        return found;
    }

    public PbPushResult PushToUser(string avatarId, string method, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(args);
        int sent = 0, dropped = 0;
        foreach (PbLogin login in FindLogins(avatarId))
        {
            if (login.Mind is RemoteReference mind)
            {
                if (mind.TryCallRemoteOneWay(method, args))
                {
                    sent++;
                }
                else
                {
                    dropped++;
                }
            }
        }
        return new PbPushResult(sent, dropped);
    }

    /// <summary>
    /// Tracks <paramref name="connection"/> until it completes; false when the app is stopping or
    /// <see cref="BrokerOptions.MaxConnections"/> of the connection's options are open already.
    /// </summary>
    public bool TryAdd(PbConnection connection)
    {
        lock (_connections)
        {
            if (_stopped || _connections.Count >= connection.Options.MaxConnections)
            {
                return false;
            }
            _connections.Add(connection);
        }
        _ = connection.Completion.ContinueWith(static (_, s) =>
        {
            var (registry, c) = ((PbConnectionRegistry, PbConnection))s!;
            lock (registry._connections)
            {
                registry._connections.Remove(c);
            }
        }, (this, connection), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return true;
    }

    private void CloseAll()
    {
        PbConnection[] open;
        lock (_connections)
        {
            _stopped = true;
            open = [.. _connections];
        }
        foreach (PbConnection connection in open)
        {
            _ = connection.DisposeAsync().AsTask();
        }
    }

    public void Dispose() => _stopping.Dispose();
}
