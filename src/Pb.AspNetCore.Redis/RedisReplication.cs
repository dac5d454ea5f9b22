using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Pb.Jelly;
using StackExchange.Redis;

namespace Pb.Redis;

/// <summary>
/// The app's connection to Redis for <see cref="ReplicatedCacheable{TState}"/>s (registered by <c>AddRedis</c>): one
/// StackExchange.Redis multiplexer for every replicated object of this node, the periodic check that each replica missed
/// nothing, and the catch-up of every replica when Redis comes back. Pass it to each replicated object's constructor.
/// </summary>
public sealed class RedisReplication : IHostedService, IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly List<Replica> _replicas = [];
    private readonly CancellationTokenSource _stop = new();
    private Task<IConnectionMultiplexer>? _connection; // under _lock; a failed attempt is replaced by the next caller's
    private Task _ticks = Task.CompletedTask;

    /// <summary>Creates the service (the DI container does: <c>AddRedis</c>).</summary>
    public RedisReplication(IOptions<RedisReplicationOptions> options, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Value;
        Options.Validate();
        Logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Pb.Redis.RedisReplication");
        Metrics = new ReplicationMetrics(meterFactory);
    }

    internal RedisReplicationOptions Options { get; }

    internal ILogger Logger { get; }

    internal ReplicationMetrics Metrics { get; }

    /// <summary>How changes and snapshots are jellied: plain values and records (no type registry: nothing is made from a class name).</summary>
    internal JellyOptions JellyOptions { get; } = new();

    /// <summary>Connects (in the background: the app starts while Redis is down) and starts the periodic check.</summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = Connect();
        return Task.CompletedTask;
    }

    /// <summary>Stops every replica and closes the connection.</summary>
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    internal Task<IConnectionMultiplexer> ConnectionAsync(CancellationToken cancellationToken) => Connect().WaitAsync(cancellationToken);

    private Task<IConnectionMultiplexer> Connect()
    {
        lock (_lock)
        {
            if (_connection is null || _connection.IsFaulted)
            {
                _connection = ConnectAsync(); // AbortOnConnectFail=false: it fails only on what a retry may mend (e.g. DNS)
            }
            return _connection;
        }
    }

    private async Task<IConnectionMultiplexer> ConnectAsync()
    {
        ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
        ConfigurationOptions configuration = Options.Configuration.Clone();
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "pb-replication";
        ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        lock (_lock)
        {
            if (!_stop.IsCancellationRequested)
            {
                redis.ConnectionFailed += (_, e) => RedisReplicationLog.ConnectionFailed(Logger, e.ConnectionType.ToString(), e.FailureType.ToString());
                redis.ConnectionRestored += (_, e) =>
                {
                    RedisReplicationLog.ConnectionRestored(Logger, e.ConnectionType.ToString());
                    CatchUpAll();
                };
                _ticks = TickAsync(_stop.Token);
                return redis;
            }
        }
        await redis.DisposeAsync().ConfigureAwait(false); // connected while the service was being stopped
        throw new ObjectDisposedException(nameof(RedisReplication));
    }

    private async Task TickAsync(CancellationToken stop)
    {
        using var timer = new PeriodicTimer(Options.CatchUpInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                CatchUpAll();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal void CatchUpAll()
    {
        Replica[] replicas;
        lock (_lock)
        {
            replicas = [.. _replicas];
        }
        foreach (Replica replica in replicas)
        {
            replica.RequestCatchUp();
        }
    }

    internal void Register(Replica replica)
    {
        lock (_lock)
        {
            if (_replicas.Any(r => r.Name == replica.Name))
            {
                throw new InvalidOperationException($"A replicated object named '{replica.Name}' exists on this node already: one object per name and node.");
            }
            _replicas.Add(replica);
        }
    }

    internal void Unregister(Replica replica)
    {
        lock (_lock)
        {
            _replicas.Remove(replica);
        }
    }

    /// <summary>Stops every replica and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        Task<IConnectionMultiplexer>? connection;
        lock (_lock)
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }
            _stop.Cancel(); // under the lock: a connection that completes from now on is closed by ConnectAsync
            connection = _connection;
        }
        Replica[] replicas;
        lock (_lock)
        {
            replicas = [.. _replicas];
        }
        foreach (Replica replica in replicas)
        {
            try
            {
                await replica.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                RedisReplicationLog.StopFailed(Logger, replica.Name, e); // the others still stop
            }
        }
        await _ticks.ConfigureAwait(false);
        if (connection is { IsCompletedSuccessfully: true })
        {
            await connection.Result.CloseAsync().ConfigureAwait(false);
            await connection.Result.DisposeAsync().ConfigureAwait(false);
        }
    }
}
