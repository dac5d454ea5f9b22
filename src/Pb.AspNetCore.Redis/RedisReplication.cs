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
    private readonly TaskCompletionSource<IConnectionMultiplexer> _connection = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _lock = new();
    private readonly List<Replica> _replicas = [];
    private readonly CancellationTokenSource _stop = new();
    private int _connecting;
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
        Connect();
        return Task.CompletedTask;
    }

    /// <summary>Stops every replica and closes the connection.</summary>
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    internal Task<IConnectionMultiplexer> ConnectionAsync(CancellationToken cancellationToken)
    {
        Connect();
        return _connection.Task.WaitAsync(cancellationToken);
    }

    private void Connect()
    {
        if (Interlocked.Exchange(ref _connecting, 1) == 1)
        {
            return;
        }
        ConfigurationOptions configuration = Options.Configuration.Clone();
        configuration.AbortOnConnectFail = false;
        configuration.BacklogPolicy = BacklogPolicy.FailFast;
        configuration.ClientName ??= "pb-replication";
        _ = Task.Run(async () =>
        {
            try
            {
                ConnectionMultiplexer redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
                redis.ConnectionFailed += (_, e) => RedisReplicationLog.ConnectionFailed(Logger, e.ConnectionType.ToString(), e.FailureType.ToString());
                redis.ConnectionRestored += (_, e) =>
                {
                    RedisReplicationLog.ConnectionRestored(Logger, e.ConnectionType.ToString());
                    CatchUpAll();
                };
                _connection.TrySetResult(redis);
                _ticks = TickAsync(_stop.Token);
            }
            catch (Exception e)
            {
                _connection.TrySetException(e);
            }
        });
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

    private void CatchUpAll()
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
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        Replica[] replicas;
        lock (_lock)
        {
            replicas = [.. _replicas];
        }
        foreach (Replica replica in replicas)
        {
            await replica.DisposeAsync().ConfigureAwait(false);
        }
        await _ticks.ConfigureAwait(false);
        if (_connection.Task.IsCompletedSuccessfully)
        {
            await _connection.Task.Result.CloseAsync().ConfigureAwait(false);
            _connection.Task.Result.Dispose();
        }
        else
        {
            _connection.TrySetCanceled();
        }
    }
}
