using Microsoft.Extensions.Logging;

namespace Pb.Redis;

internal static partial class RedisReplicationLog
{
    [LoggerMessage(1, LogLevel.Information, "Replica {Name} loaded at sequence {Sequence} (epoch {Epoch}).")]
    public static partial void Loaded(ILogger logger, string name, long sequence, string epoch);

    [LoggerMessage(2, LogLevel.Warning, "Replica {Name} resynced from the snapshot at sequence {Sequence}: {Reason}.")]
    public static partial void Resynced(ILogger logger, string name, long sequence, string reason);

    [LoggerMessage(3, LogLevel.Debug, "Replica {Name} filled a gap from the log: {Count} changes after sequence {After}.")]
    public static partial void GapFilled(ILogger logger, string name, int count, long after);

    [LoggerMessage(4, LogLevel.Warning, "Replica {Name} could not reach Redis; it serves sequence {Sequence} and tries again.")]
    public static partial void RedisUnavailable(ILogger logger, string name, long sequence, Exception exception);

    [LoggerMessage(5, LogLevel.Error, "Replica {Name}: change {Sequence} ({Change}) failed to apply on every node alike and was skipped.")]
    public static partial void ApplyFailed(ILogger logger, string name, long sequence, string change, Exception exception);

    [LoggerMessage(6, LogLevel.Error, "Replica {Name}: changes {From} to {To} are gone from the log and from every snapshot; the replica continues after them.")]
    public static partial void ChangesLost(ILogger logger, string name, long from, long to);

    [LoggerMessage(7, LogLevel.Warning, "Replica {Name} started a new history at sequence {Sequence} (epoch {Epoch}): Redis had none.")]
    public static partial void Seeded(ILogger logger, string name, long sequence, string epoch);

    [LoggerMessage(8, LogLevel.Warning, "Replica {Name} ignored a malformed message or log entry.")]
    public static partial void Malformed(ILogger logger, string name);

    [LoggerMessage(9, LogLevel.Warning, "Replica {Name} fell {Count} messages behind and catches up from the log instead.")]
    public static partial void Overflowed(ILogger logger, string name, int count);

    [LoggerMessage(10, LogLevel.Warning, "Connection to Redis {Kind} failed ({Failure}); replicas serve their last state until it returns.")]
    public static partial void ConnectionFailed(ILogger logger, string kind, string failure);

    [LoggerMessage(11, LogLevel.Information, "Connection to Redis {Kind} restored; replicas catch up.")]
    public static partial void ConnectionRestored(ILogger logger, string kind);

    [LoggerMessage(12, LogLevel.Error, "Replica {Name} wrote no snapshot at sequence {Sequence}: the state is {Size} bytes, more than RedisReplicationOptions.MaxSnapshotSize ({Limit}), which no node would load.")]
    public static partial void SnapshotTooLarge(ILogger logger, string name, long sequence, int size, int limit);

    [LoggerMessage(13, LogLevel.Warning, "Replica {Name} put its state at sequence {Sequence} back into Redis (epoch {Epoch}), replacing an initial state that a node which never loaded the object had seeded.")]
    public static partial void Reseeded(ILogger logger, string name, long sequence, string epoch);

    [LoggerMessage(14, LogLevel.Error, "Replica {Name} failed to stop cleanly.")]
    public static partial void StopFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(15, LogLevel.Error, "Replica {Name} loaded its state, but giving its observers the new state failed.")]
    public static partial void ResyncPushFailed(ILogger logger, string name, Exception exception);
}
