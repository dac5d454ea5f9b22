using StackExchange.Redis;

namespace Pb.Redis;

/// <summary>
/// How <see cref="ReplicatedCacheable{TState}"/>s replicate through Redis: the connection, the app's key prefix, and a
/// limit on everything a node reads back from Redis or keeps for it. Each default says the threat or cost it weighs.
/// </summary>
public sealed class RedisReplicationOptions
{
    /// <summary>
    /// The Redis connection (StackExchange.Redis). <c>AddRedis</c> sets it from a connection string; this package then
    /// also sets <see cref="ConfigurationOptions.AbortOnConnectFail"/> false (the app starts, and serves the last state,
    /// while Redis is down) and <see cref="BacklogPolicy.FailFast"/> (a change fails at once while Redis is
    /// unreachable, rather than waiting in a queue).
    /// </summary>
    public ConfigurationOptions Configuration { get; set; } = new();

    /// <summary>
    /// The prefix of every key and channel, one per app sharing a Redis. Default <c>"pb"</c>. Letters, digits and
    /// <c>-_.:</c> only.
    /// </summary>
    public string KeyPrefix { get; set; } = "pb";

    /// <summary>
    /// Changes kept in each object's log (a Redis Stream, trimmed to exactly this length), from which a node fills a
    /// gap or catches up after a disconnection. Default 10,000. Cost: Redis memory per object; a node that misses more
    /// changes than this (and than <see cref="SnapshotInterval"/> covers) starts again from the latest snapshot.
    /// </summary>
    public int LogLength { get; set; } = 10_000;

    /// <summary>
    /// A snapshot of the state goes to Redis every this many changes (written by the node that submitted the change),
    /// so a late node loads it and replays at most this many changes. Default 100. Must be well below
    /// <see cref="LogLength"/>.
    /// </summary>
    public int SnapshotInterval { get; set; } = 100;

    /// <summary>
    /// How often each replica asks Redis for the latest sequence number, to notice a change whose message it never
    /// got (a dropped subscription) even when no later change follows. Default 1 s. Cost: one Redis call per
    /// object per interval.
    /// </summary>
    public TimeSpan CatchUpInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest a change waits to be sequenced by Redis and applied here before its caller gets an error.
    /// Default 5 s. Threat: a caller held forever by a paused or partitioned Redis.
    /// </summary>
    public TimeSpan ChangeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The largest change (its jellied arguments) a node submits or applies. Default 1 MiB. Threat: one change that
    /// fills Redis's log and every node's memory.
    /// </summary>
    public int MaxChangeSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The largest snapshot a node writes or loads. Default 16 MiB. Threat: a state grown without bound, copied to
    /// Redis and into every node that starts.
    /// </summary>
    public int MaxSnapshotSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Messages waiting for a replica to apply them; past this, the replica drops them and catches up from the log
    /// instead (nothing is lost). Default 100,000. Threat: memory of a node that cannot keep up.
    /// </summary>
    public int MaxQueuedMessages { get; set; } = 100_000;

    /// <summary>
    /// Bytes of the messages waiting for a replica to apply them; past this, the replica drops them and catches up from
    /// the log instead (nothing is lost). Default 64 MiB. Threat: memory of a node that cannot keep up with large changes
    /// (<see cref="MaxQueuedMessages"/> changes of <see cref="MaxChangeSize"/> each would be 100 GB).
    /// </summary>
    public long MaxQueuedBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Bytes of log entries a replica reads from Redis in one page, and holds in a resync before it applies them (a page
    /// holds at least one entry; a resync past it applies what it read, then replays the rest page by page). Default 8 MiB.
    /// Threat: a page of 1,000 entries of <see cref="MaxChangeSize"/> (1 GB), or a resync over a log of
    /// <see cref="LogLength"/> such entries (10 GB), in one node's memory, and in Redis's while it answers.
    /// </summary>
    public int MaxLogReadBytes { get; set; } = 8 * 1024 * 1024;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Configuration);
        RedisKeys.CheckName(KeyPrefix, nameof(KeyPrefix));
        ArgumentOutOfRangeException.ThrowIfLessThan(LogLength, 10, nameof(LogLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(SnapshotInterval, 1, nameof(SnapshotInterval));
        if ((long)SnapshotInterval * 2 > LogLength)
        {
            throw new ArgumentException($"SnapshotInterval ({SnapshotInterval}) must be at most half of LogLength ({LogLength}), so the log reaches back to the latest snapshot while snapshots are written on time.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CatchUpInterval, TimeSpan.Zero, nameof(CatchUpInterval));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ChangeTimeout, TimeSpan.Zero, nameof(ChangeTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxChangeSize, 64, nameof(MaxChangeSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSnapshotSize, 64, nameof(MaxSnapshotSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueuedMessages, 1, nameof(MaxQueuedMessages));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueuedBytes, 1024, nameof(MaxQueuedBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxLogReadBytes, 1024, nameof(MaxLogReadBytes));
    }
}
