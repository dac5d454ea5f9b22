using Microsoft.Extensions.Hosting;

namespace Pb.AspNetCore;

/// <summary>
/// The open PB connections of the app (WebSocket and TCP), closed together when the app stops: their pending calls
/// fail with a clear <see cref="ConnectionLostException"/> instead of hanging until the host gives up.
/// </summary>
internal sealed class PbConnectionRegistry : IDisposable
{
    private readonly HashSet<PbConnection> _connections = [];
    private readonly CancellationTokenRegistration _stopping;
    private bool _stopped;

    public PbConnectionRegistry(IHostApplicationLifetime lifetime) =>
        _stopping = lifetime.ApplicationStopping.Register(static r => ((PbConnectionRegistry)r!).CloseAll(), this);

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
