using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Pb.Jelly;
using StackExchange.Redis;

namespace Pb.Redis;

/// <summary>What a <see cref="Replica"/> asks of the object it replicates; every member runs under <see cref="SyncRoot"/>.</summary>
internal interface IReplicaOwner
{
    object SyncRoot { get; }

    /// <summary>The jellied state now, or the initial state's when <paramref name="initial"/>.</summary>
    byte[] SerializeState(bool initial);

    /// <summary>Replaces the state with a snapshot's (null: the initial state).</summary>
    void LoadState(ReadOnlyMemory<byte>? snapshot);

    /// <summary>Applies one change; pushes it to the local observers when <paramref name="push"/>. Returns the exception Apply threw, if any (the state is unchanged then).</summary>
    Exception? ApplyChange(long sequence, string change, object?[] args, bool push);

    /// <summary>Gives every local observer the whole state again (after the state jumped).</summary>
    void PushResync();
}

/// <summary>
/// One node's replica of one object: a single loop applies the changes Redis sequenced, strictly in order. A message
/// with the next sequence number is applied; an older one is a duplicate and dropped; a newer one reveals a gap, filled
/// from the log; a message of another epoch (Redis lost its data, another node seeded it again), a log that no longer
/// reaches back, or a first start reload the snapshot and replay the log after it. A periodic check (and every
/// reconnection to Redis) asks for the last sequence number, so a change whose message never came is found too.
/// </summary>
internal sealed class Replica : IAsyncDisposable
{
    private enum Kind : byte { Message, CatchUp, Load }

    private readonly record struct Work(Kind Kind, Change Change, int Size = 0);

    private readonly RedisReplication _replication;
    private readonly IReplicaOwner _owner;
    private readonly RedisKeys _keys;
    private readonly RedisReplicationOptions _options;
    private readonly ILogger _logger;
    private readonly ReplicationMetrics _metrics;
    private readonly Channel<Work> _work;
    private const int PageSize = 1000; // log entries per read
    private const int MaxHeaderSize = 512; // a published change's header: epoch, sequence, time and name (RedisProtocol)

    // Keyed by epoch and sequence number: after Redis lost its data a new history may reuse the numbers.
    private readonly Dictionary<(string Epoch, long Sequence), TaskCompletionSource<Exception?>> _waiters = [];
    private readonly Queue<(string Epoch, long Sequence, Exception Error)> _recentErrors = new(); // for a submitter that asks after the fact
    private readonly Queue<(string Epoch, long From, long To, string Reason)> _recentLosses = new(); // numbers a resync moved past unapplied
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _turn = new(1, 1); // held by whoever applies: the loop, or a message applied where it arrives
    private ChannelMessageQueue? _subscription;
    private readonly object _lifecycle = new(); // Start against DisposeAsync
    private Task _loop = Task.CompletedTask;
    private int _overflowed;
    private long _queuedBytes; // of the messages in _work
    private int _catchUpQueued;
    private int _disposed;
    private string? _epoch;
    private long _sequence;
    private bool _loaded;

    public Replica(RedisReplication replication, IReplicaOwner owner, string name)
    {
        _replication = replication;
        _owner = owner;
        _options = replication.Options;
        _keys = new RedisKeys(_options.KeyPrefix, name);
        Name = name;
        _logger = replication.Logger;
        _metrics = replication.Metrics;
        _work = Channel.CreateBounded<Work>(new BoundedChannelOptions(_options.MaxQueuedMessages) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public string Name { get; }

    public int MaxChangeSize => _options.MaxChangeSize;

    /// <summary>The last sequence number applied here (read under the owner's SyncRoot for a consistent view).</summary>
    public long Sequence => Volatile.Read(ref _sequence);

    /// <summary>Completes once the replica loaded the object's state from Redis the first time.</summary>
    public Task WhenReady => _ready.Task;

    /// <summary>Starts the loop (once: the owner calls it at its first use).</summary>
    public void Start()
    {
        lock (_lifecycle)
        {
            if (_disposed == 0)
            {
                _loop = Task.Run(RunAsync); // DisposeAsync cancels it; a first use during or after it starts nothing
            }
        }
    }

    /// <summary>Asks the loop to compare its sequence number with Redis's (periodic check, reconnection).</summary>
    public void RequestCatchUp()
    {
        if (Interlocked.Exchange(ref _catchUpQueued, 1) == 0 && !_work.Writer.TryWrite(new Work(Kind.CatchUp, default)))
        {
            Volatile.Write(ref _catchUpQueued, 0);
            Volatile.Write(ref _overflowed, 1);
        }
    }

    private async Task RunAsync()
    {
        CancellationToken stop = _stop.Token;
        _work.Writer.TryWrite(new Work(Kind.Load, default)); // before any message: subscribe first, then load, then drain
        IConnectionMultiplexer? redis = null;
        while (_subscription is null)
        {
            try
            {
                redis ??= await _replication.ConnectionAsync(stop).ConfigureAwait(false);
                ChannelMessageQueue subscription = await redis.GetSubscriber().SubscribeAsync(_keys.Channel).ConfigureAwait(false);
                subscription.OnMessage(OnMessage);
                _subscription = subscription; // DisposeAsync unsubscribes it once this loop ended
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                RedisReplicationLog.RedisUnavailable(_logger, Name, Sequence, e);
                try
                {
                    await Task.Delay(_options.CatchUpInterval, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
        IDatabase db = redis!.GetDatabase();
        while (await WaitToReadAsync(stop).ConfigureAwait(false))
        {
            try
            {
                await _turn.WaitAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            try
            {
                await DrainAsync(db).ConfigureAwait(false);
            }
            finally
            {
                _turn.Release();
            }
        }
    }

    private async Task DrainAsync(IDatabase db)
    {
        while (!_stop.IsCancellationRequested && _work.Reader.TryRead(out Work work))
        {
            Interlocked.Add(ref _queuedBytes, -work.Size);
            try
            {
                if (Interlocked.Exchange(ref _overflowed, 0) == 1)
                {
                    RedisReplicationLog.Overflowed(_logger, Name, _work.Reader.Count);
                    await CatchUpAsync(db).ConfigureAwait(false);
                }
                switch (work.Kind)
                {
                    case Kind.Load:
                        await ResyncAsync(db, "start").ConfigureAwait(false);
                        break;
                    case Kind.CatchUp:
                        Volatile.Write(ref _catchUpQueued, 0);
                        await CatchUpAsync(db).ConfigureAwait(false);
                        break;
                    default:
                        await ReceiveAsync(db, work.Change).ConfigureAwait(false);
                        break;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
            {
                // Redis is unreachable (or answered nonsense), or something else failed: one item never ends the loop;
                // it serves the last state, and the periodic check tries again.
                RedisReplicationLog.RedisUnavailable(_logger, Name, Sequence, e);
            }
        }
    }

    private async ValueTask<bool> WaitToReadAsync(CancellationToken stop)
    {
        try
        {
            return await _work.Reader.WaitToReadAsync(stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void OnMessage(ChannelMessage message)
    {
        if (Volatile.Read(ref _disposed) == 1)
        {
            return; // a message the subscription delivered while this replica was being disposed
        }
        long size = message.Message.Length();
        if (size > _options.MaxChangeSize + MaxHeaderSize)
        {
            // Past what any node submits (MaxChangeSize): not queued (the queue holds changes of allowed size only,
            // within MaxQueuedMessages and MaxQueuedBytes); the loop reads it from the log and skips it, as every node does.
            RedisReplicationLog.Malformed(_logger, Name);
            RequestCatchUp();
            return;
        }
        if (!RedisProtocol.TryReadMessage(message.Message, out Change change))
        {
            RedisReplicationLog.Malformed(_logger, Name);
            RequestCatchUp();
            return;
        }
        // The common case, the next change while the loop has nothing to do, is applied here at once (one thread hop
        // less per change); anything else goes through the loop, in order.
        if (_turn.Wait(0))
        {
            bool done = false;
            try
            {
                if (_work.Reader.Count == 0 && Volatile.Read(ref _overflowed) == 0 && _loaded && change.Epoch == _epoch)
                {
                    if (change.Sequence == _sequence + 1)
                    {
                        Apply(change, push: true);
                        done = true;
                    }
                    else if (change.Sequence <= _sequence)
                    {
                        _metrics.Duplicates.Add(1);
                        done = true;
                    }
                }
            }
            catch (Exception)
            {
                // nothing escapes into StackExchange.Redis's callback (it would swallow it, and the message with it)
                RedisReplicationLog.Malformed(_logger, Name);
                done = true;
                RequestCatchUp(); // the log has it as Redis sequenced it
            }
            finally
            {
                _turn.Release();
            }
            if (done)
            {
                return;
            }
        }
        // Bounded by count and by bytes: past either, the message is dropped and the loop catches up from the log.
        if (Interlocked.Add(ref _queuedBytes, size) > _options.MaxQueuedBytes || !_work.Writer.TryWrite(new Work(Kind.Message, change, (int)size)))
        {
            Interlocked.Add(ref _queuedBytes, -size);
            _metrics.Dropped.Add(1);
            Volatile.Write(ref _overflowed, 1); // the log has it: the loop catches up when it gets here
        }
    }

    private async Task ReceiveAsync(IDatabase db, Change change)
    {
        if (!_loaded)
        {
            await ResyncAsync(db, "start").ConfigureAwait(false);
            return;
        }
        if (change.Epoch != _epoch)
        {
            // A message of another history: a late one of the history before ours, or the first of a new one. Redis's
            // head says which (a resync only when the history did change).
            await CatchUpAsync(db).ConfigureAwait(false);
            return;
        }
        if (change.Sequence <= _sequence)
        {
            _metrics.Duplicates.Add(1);
            return;
        }
        if (change.Sequence == _sequence + 1)
        {
            Apply(change, push: true);
            return;
        }
        long after = _sequence;
        if (!await ReplayAsync(db, change.Sequence).ConfigureAwait(false))
        {
            await ResyncAsync(db, "the log no longer holds the missing changes").ConfigureAwait(false);
            return;
        }
        _metrics.GapsRepaired.Add(1); // a gap the log filled (one it could not is a resync)
        RedisReplicationLog.GapFilled(_logger, Name, (int)(_sequence - after), after);
    }

    private async Task CatchUpAsync(IDatabase db)
    {
        if (!_loaded)
        {
            await ResyncAsync(db, "start").ConfigureAwait(false);
            return;
        }
        var head = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Head, [_keys.Epoch, _keys.Sequence, _keys.Snapshot]).ConfigureAwait(false))!;
        string? epoch = (string?)head[0];
        if (epoch is null || (epoch != _epoch && (long)head[2] == 1))
        {
            // Redis has no history (it lost its data), or only the initial state a node that never loaded the object
            // seeded since: this node's state goes back in (the first loaded node to ask wins).
            epoch = await SeedAsync(db).ConfigureAwait(false);
        }
        if (epoch != _epoch)
        {
            await ResyncAsync(db, "the object's epoch changed (Redis lost its data and the history started again)").ConfigureAwait(false);
            return;
        }
        long last = (long)head[1];
        if (last > _sequence)
        {
            long after = _sequence;
            if (!await ReplayAsync(db, last).ConfigureAwait(false))
            {
                await ResyncAsync(db, "the log no longer holds the missing changes").ConfigureAwait(false);
                return;
            }
            _metrics.GapsRepaired.Add(1);
            RedisReplicationLog.GapFilled(_logger, Name, (int)(_sequence - after), after);
        }
    }

    /// <summary>Applies the log's changes after our sequence number, at least up to <paramref name="upTo"/>; false when the log does not reach back to them, or belongs to another history.</summary>
    private async Task<bool> ReplayAsync(IDatabase db, long upTo)
    {
        while (_sequence < upTo)
        {
            var range = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Range, [_keys.Epoch, _keys.Log], [_sequence + 1, PageSize, _options.MaxLogReadBytes]).ConfigureAwait(false))!;
            if ((string?)range[0] != _epoch || range[1].Length == 0)
            {
                return false;
            }
            RedisResult entries = range[1];
            for (int i = 0; i < entries.Length; i++)
            {
                if (!RedisProtocol.TryReadEntry(entries[i], _epoch!, out Change change) || change.Sequence != _sequence + 1)
                {
                    if (i > 0 || change.Sequence == 0)
                    {
                        RedisReplicationLog.Malformed(_logger, Name); // the resync skips what cannot be read
                    }
                    return false;
                }
                Apply(change, push: true);
            }
        }
        return true;
    }

    /// <summary>
    /// Loads the snapshot and every logged change after it, then replaces the state in one step and gives every observer
    /// the new state (a jump, which changes cannot express). Starts the history when Redis has none.
    /// </summary>
    private async Task ResyncAsync(IDatabase db, string reason)
    {
        string epoch;
        long snapshotSequence, head;
        byte[]? snapshot;
        List<Change> changes;
        bool partial; // the changes read stop at MaxLogReadBytes, before the log's end
        for (int attempt = 1; ; attempt++)
        {
            RedisResult[] load = await LoadAsync(db).ConfigureAwait(false);
            if (load[0].IsNull)
            {
                await SeedAsync(db).ConfigureAwait(false);
                load = await LoadAsync(db).ConfigureAwait(false);
                if (load[0].IsNull)
                {
                    throw new RedisException($"Redis holds no history of '{Name}' right after it was seeded.");
                }
            }
            epoch = (string)load[0]!;
            head = (long)load[1];
            snapshotSequence = load[2].IsNull ? 0 : (long)load[2];
            snapshot = load[3].IsNull ? null : (byte[]?)load[3];
            if (snapshot is { Length: var size } && size > _options.MaxSnapshotSize)
            {
                throw new InvalidDataException($"The snapshot of '{Name}' is {size} bytes, more than RedisReplicationOptions.MaxSnapshotSize ({_options.MaxSnapshotSize}).");
            }
            // The changes after the snapshot, read before anything changes here (a trimmed log loses what it no longer
            // has); the first page came with the snapshot, each further one with the epoch it belongs to.
            changes = [];
            partial = false;
            long next = snapshotSequence + 1, read = 0;
            RedisResult entries = load[4];
            bool cut = (long)load[5] == 1, sameHistory = true;
            for (;;)
            {
                long pageStart = next;
                for (int i = 0; i < entries.Length; i++)
                {
                    if (RedisProtocol.TryReadEntry(entries[i], epoch, out Change change))
                    {
                        if (change.Sequence >= next)
                        {
                            changes.Add(change);
                            next = change.Sequence + 1;
                            read += change.Arguments.Length + change.Name.Length;
                        }
                    }
                    else if (RedisProtocol.SequenceOfEntry(entries[i]) is var unreadable && unreadable >= next)
                    {
                        next = unreadable + 1; // skipped (every node alike), and the next page starts after it
                    }
                }
                if ((entries.Length < PageSize && !cut) || next == pageStart)
                {
                    break; // the end of the log, or a page of entries without even a sequence number: what follows is lost
                }
                if (read >= _options.MaxLogReadBytes)
                {
                    partial = true; // as much as a resync holds: the rest is replayed once this is in
                    break;
                }
                _stop.Token.ThrowIfCancellationRequested();
                long budget = _options.MaxLogReadBytes - read;
                var range = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Range, [_keys.Epoch, _keys.Log], [next, PageSize, budget]).ConfigureAwait(false))!;
                if ((string?)range[0] != epoch)
                {
                    sameHistory = false; // Redis lost its data while we read: read the new history
                    break;
                }
                entries = range[1];
                cut = (long)range[2] == 1;
            }
            bool snapshotOlderThanLog = changes.Count > 0 && changes[0].Sequence != snapshotSequence + 1;
            if ((sameHistory && !snapshotOlderThanLog) || attempt == 3)
            {
                if (!sameHistory)
                {
                    throw new RedisException($"The history of '{Name}' kept changing while it was loaded.");
                }
                break; // a snapshot older than the log's start three times running: what lies between is lost
            }
            // else a newer snapshot may be on its way (the log was trimmed past the one we read): read again
        }
        var decoded = new List<(Change Change, object?[]? Args, Exception? Error)>(changes.Count);
        foreach (Change change in changes)
        {
            object?[]? args = TryDecodeArguments(change, out Exception? error);
            decoded.Add((change, args, error));
        }
        bool wasLoaded = _loaded;
        var settled = new List<(TaskCompletionSource<Exception?>, Exception?)>();
        const string trimmed = "Redis's log no longer held it (or held it unreadable) when this node reloaded the state";
        lock (_owner.SyncRoot)
        {
            _owner.LoadState(snapshot);
            long sequence = snapshotSequence;
            foreach ((Change change, object?[]? args, Exception? decodeError) in decoded)
            {
                if (change.Sequence != sequence + 1)
                {
                    RedisReplicationLog.ChangesLost(_logger, Name, sequence + 1, change.Sequence - 1);
                    RememberLoss(epoch, sequence + 1, change.Sequence - 1, trimmed);
                }
                Exception? error = args is null ? decodeError : _owner.ApplyChange(change.Sequence, change.Name, args, push: false);
                if (error is not null)
                {
                    RedisReplicationLog.ApplyFailed(_logger, Name, change.Sequence, change.Name, error);
                    RememberError(epoch, change.Sequence, error);
                }
                sequence = change.Sequence;
                if (_waiters.Remove((epoch, sequence), out TaskCompletionSource<Exception?>? waiter))
                {
                    settled.Add((waiter, error));
                }
            }
            if (sequence < head && !partial)
            {
                // Redis numbered changes its log no longer holds, after the snapshot: move on past them (waiting for
                // them would wait forever).
                RedisReplicationLog.ChangesLost(_logger, Name, sequence + 1, head);
                RememberLoss(epoch, sequence + 1, head, trimmed);
                sequence = head;
            }
            _epoch = epoch;
            Volatile.Write(ref _sequence, sequence);
            _loaded = true;
            try
            {
                _owner.PushResync();
            }
            catch (Exception e)
            {
                // the state is in: the waiters below and WhenReady complete whatever the pushes did
                RedisReplicationLog.ResyncPushFailed(_logger, Name, e);
            }
            // Anything still waiting at or below the new sequence number is settled: its change is in the snapshot, or
            // was lost with the log (a number moved past above); a change of an earlier history is lost with it.
            foreach ((string Epoch, long Sequence) key in _waiters.Keys.Where(k => k.Epoch != epoch || k.Sequence <= sequence).ToList())
            {
                _waiters.Remove(key, out TaskCompletionSource<Exception?>? waiter);
                settled.Add((waiter!, key.Epoch != epoch ? new ChangeLostException(key.Sequence, "Redis lost its data before this node applied it")
                    : FindLoss(key.Epoch, key.Sequence)));
            }
        }
        foreach ((TaskCompletionSource<Exception?> waiter, Exception? error) in settled)
        {
            waiter.TrySetResult(error);
        }
        _metrics.Applied.Add(decoded.Count);
        if (wasLoaded)
        {
            _metrics.Resyncs.Add(1);
            RedisReplicationLog.Resynced(_logger, Name, Sequence, reason);
        }
        else
        {
            RedisReplicationLog.Loaded(_logger, Name, Sequence, epoch);
        }
        try
        {
            // The rest of the log, page by page, as a gap is filled (the state above is whole up to its number); when
            // the log no longer holds it, the catch-up resyncs from a newer snapshot.
            if (partial && !await ReplayAsync(db, head).ConfigureAwait(false))
            {
                RequestCatchUp();
            }
        }
        finally
        {
            _ready.TrySetResult();
        }
    }

    /// <summary>Keeps what Apply threw for a change (the last 64), for its submitter. Under the owner's SyncRoot.</summary>
    private void RememberError(string epoch, long sequence, Exception error) => KeepLast(_recentErrors, (epoch, sequence, error));

    private static void KeepLast<T>(Queue<T> recent, T item)
    {
        recent.Enqueue(item);
        if (recent.Count > 64)
        {
            recent.Dequeue();
        }
    }

    /// <summary>Keeps a range of numbers a resync moved past without applying them (the last 64), for their submitters. Under the owner's SyncRoot.</summary>
    private void RememberLoss(string epoch, long from, long to, string reason) => KeepLast(_recentLosses, (epoch, from, to, reason));

    /// <summary>The error for a change a resync moved past without applying it, or null when it is in the state. Under the owner's SyncRoot.</summary>
    private ChangeLostException? FindLoss(string epoch, long sequence)
    {
        foreach ((string lostEpoch, long from, long to, string reason) in _recentLosses)
        {
            if (lostEpoch == epoch && from <= sequence && sequence <= to)
            {
                return new ChangeLostException(sequence, reason);
            }
        }
        return null;
    }

    private async Task<RedisResult[]> LoadAsync(IDatabase db) =>
        (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Load, [_keys.Epoch, _keys.Sequence, _keys.Snapshot, _keys.Log], [PageSize, _options.MaxLogReadBytes]).ConfigureAwait(false))!;

    /// <summary>Starts the object's history from this node's state (the first node to ask wins); answers the epoch that holds.</summary>
    private async Task<string> SeedAsync(IDatabase db, bool adopt = true)
    {
        byte[] state;
        long sequence;
        bool loaded;
        lock (_owner.SyncRoot)
        {
            loaded = _loaded;
            state = _owner.SerializeState(initial: !loaded);
            sequence = loaded ? _sequence : 0;
        }
        if (state.Length > _options.MaxSnapshotSize)
        {
            // Every node must load the history's start: one past the limit would be refused by each of them, forever.
            RedisReplicationLog.SnapshotTooLarge(_logger, Name, sequence, state.Length, _options.MaxSnapshotSize);
            throw new PbException($"The state of '{Name}' is {state.Length} bytes, more than RedisReplicationOptions.MaxSnapshotSize ({_options.MaxSnapshotSize}): it cannot start the shared history, which every node must load. Nothing was changed.");
        }
        string candidate = Guid.NewGuid().ToString("N");
        string answer = (string)(await db.ScriptEvaluateAsync(RedisScripts.Seed,
            [_keys.Epoch, _keys.Sequence, _keys.Log, _keys.Snapshot], [candidate, sequence, state, loaded ? "0" : "1"]).ConfigureAwait(false))!;
        bool replaced = answer.EndsWith(" replaced", StringComparison.Ordinal);
        string epoch = replaced ? answer[..^" replaced".Length] : answer;
        if (epoch == candidate)
        {
            if (replaced)
            {
                RedisReplicationLog.Reseeded(_logger, Name, sequence, epoch);
            }
            else
            {
                RedisReplicationLog.Seeded(_logger, Name, sequence, epoch);
            }
            lock (_owner.SyncRoot)
            {
                if (adopt && _loaded && _sequence == sequence)
                {
                    _epoch = epoch; // the loop's own state is the new history's start: nothing to reload
                }
            }
        }
        return epoch;
    }

    /// <summary>The change's arguments, or null with the error when they cannot be read (every node skips the change alike then).</summary>
    private object?[]? TryDecodeArguments(Change change, out Exception? error)
    {
        try
        {
            error = null;
            return DecodeArguments(change);
        }
        catch (Exception e) when (e is JellyException or Banana.BananaException or InvalidDataException or InvalidCastException)
        {
            error = new InvalidDataException($"Change {change.Sequence} ({change.Name}) of '{Name}' cannot be read: {e.Message}", e);
            return null;
        }
    }

    private object?[] DecodeArguments(Change change)
    {
        if (change.Arguments.Length > _options.MaxChangeSize)
        {
            throw new InvalidDataException($"Change {change.Sequence} of '{Name}' is {change.Arguments.Length} bytes, more than RedisReplicationOptions.MaxChangeSize ({_options.MaxChangeSize}).");
        }
        object? value = JellySerializer.Deserialize(change.Arguments, options: _replication.JellyOptions);
        return value switch
        {
            PbTuple tuple => [.. tuple],
            IList<object?> list => [.. list],
            _ => throw new InvalidDataException($"Change {change.Sequence} of '{Name}' carries no argument list."),
        };
    }

    private void Apply(Change change, bool push)
    {
        object?[]? args = TryDecodeArguments(change, out Exception? error);
        TaskCompletionSource<Exception?>? waiter;
        lock (_owner.SyncRoot)
        {
            if (args is not null)
            {
                error = _owner.ApplyChange(change.Sequence, change.Name, args, push);
            }
            Volatile.Write(ref _sequence, change.Sequence);
            _waiters.Remove((change.Epoch, change.Sequence), out waiter);
            if (error is not null)
            {
                RememberError(change.Epoch, change.Sequence, error); // in the same lock: a submitter that looks after the fact sees it
            }
        }
        _metrics.Applied.Add(1);
        _metrics.Lag.Record(Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - change.SubmittedUnixMs) / 1000.0);
        if (error is not null)
        {
            RedisReplicationLog.ApplyFailed(_logger, Name, change.Sequence, change.Name, error);
        }
        waiter?.TrySetResult(error);
    }

    /// <summary>
    /// Writes a snapshot of the state now (any sequence number with its state is a valid snapshot): the submitter of a
    /// change whose number is a multiple of SnapshotInterval does, once the change is applied here. Not awaited by the
    /// change's caller; a failure is logged, and the next multiple tries again.
    /// </summary>
    private async Task WriteSnapshotAsync(IDatabase db)
    {
        try
        {
            byte[] snapshot;
            long sequence;
            string? epoch;
            lock (_owner.SyncRoot)
            {
                snapshot = _owner.SerializeState(initial: false);
                sequence = _sequence;
                epoch = _epoch;
            }
            if (snapshot.Length > _options.MaxSnapshotSize)
            {
                RedisReplicationLog.SnapshotTooLarge(_logger, Name, sequence, snapshot.Length, _options.MaxSnapshotSize);
            }
            else if (epoch is not null)
            {
                await db.ScriptEvaluateAsync(RedisScripts.Snapshot, [_keys.Epoch, _keys.Snapshot], [epoch, sequence, snapshot]).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException or JellyException or Banana.BananaException)
        {
            RedisReplicationLog.RedisUnavailable(_logger, Name, Sequence, e);
        }
    }

    /// <summary>
    /// Submits one change (jellied arguments) for Redis to sequence, then waits until this node applied it. Answers its
    /// sequence number, or null when <paramref name="expectedSequence"/> was given and another change came first.
    /// </summary>
    public async Task<long?> SubmitAsync(string change, byte[] arguments, long expectedSequence, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) == 1, this); // it would be sequenced, never applied here
        long started = Stopwatch.GetTimestamp();
        TimeSpan Left() // one ChangeTimeout for the whole submit, however many steps it takes
        {
            TimeSpan left = _options.ChangeTimeout - Stopwatch.GetElapsedTime(started);
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
        IConnectionMultiplexer redis;
        try
        {
            redis = await _replication.ConnectionAsync(cancellationToken).WaitAsync(Left(), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            // nothing was sent: the caller may simply try again
            throw new RedisConnectionException(ConnectionFailureType.UnableToConnect, CommandFlags.None, $"No connection to Redis within {_options.ChangeTimeout.TotalSeconds:0.###} s (RedisReplicationOptions.ChangeTimeout).", e, CommandStatus.WaitingToBeSent) /* not sent */;
        }
        IDatabase db = redis.GetDatabase();
        // a compare-and-set holds for the history whose state the caller looked at
        string expectedEpoch = expectedSequence >= 0 ? Volatile.Read(ref _epoch) ?? "" : "";
        string loadedEpoch = Volatile.Read(ref _epoch) ?? ""; // set by the first load, never before (no lock: the loop may hold it long)
        RedisValue[] argv = [change, arguments, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _options.LogLength, expectedSequence, _keys.Channel.ToString(), expectedEpoch, loadedEpoch];
        RedisKey[] keys = [_keys.Epoch, _keys.Sequence, _keys.Log, _keys.Snapshot];
        var answer = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Submit, keys, argv).WaitAsync(Left(), cancellationToken).ConfigureAwait(false))!;
        if ((long)answer[1] is -2 or -3)
        {
            // Redis has no history for the object (it restarted without its data), or only the initial state a node
            // that never loaded the object seeded since, while ours is loaded: start the history from our state (the
            // loop then moves to it), and try again. A change into that initial state would erase what we hold.
            await SeedAsync(db, adopt: false).WaitAsync(Left(), cancellationToken).ConfigureAwait(false);
            RequestCatchUp();
            answer = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.Submit, keys, argv).WaitAsync(Left(), cancellationToken).ConfigureAwait(false))!;
        }
        long sequence = (long)answer[1];
        if (sequence == -1)
        {
            return null;
        }
        if (sequence < 0)
        {
            throw new RedisException($"Redis did not sequence the change of '{Name}'.");
        }
        var key = ((string)answer[0]!, sequence);
        TaskCompletionSource<Exception?> applied;
        lock (_owner.SyncRoot)
        {
            if (_loaded && _sequence >= sequence && key.Item1 == _epoch)
            {
                // applied already (its message came before the script's answer), or moved past by a resync
                foreach ((string failedEpoch, long failed, Exception failure) in _recentErrors)
                {
                    if (failed == sequence && failedEpoch == key.Item1)
                    {
                        throw failure;
                    }
                }
                if (FindLoss(key.Item1, sequence) is { } loss)
                {
                    throw loss;
                }
                if (sequence % _options.SnapshotInterval == 0)
                {
                    _ = WriteSnapshotAsync(db);
                }
                return sequence;
            }
            if (!_waiters.TryGetValue(key, out applied!))
            {
                _waiters[key] = applied = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        Exception? error;
        try
        {
            error = await applied.Task.WaitAsync(Left(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            lock (_owner.SyncRoot)
            {
                _waiters.Remove(key);
            }
            if (e is OperationCanceledException)
            {
                throw;
            }
            RequestCatchUp();
            throw new ChangePendingException(sequence, $"Change {sequence} of '{Name}' was sequenced by Redis but not applied here within {_options.ChangeTimeout.TotalSeconds:0.###} s (RedisReplicationOptions.ChangeTimeout).");
        }
        if (sequence % _options.SnapshotInterval == 0)
        {
            _ = WriteSnapshotAsync(db); // whether or not Apply refused it: the state at a number is what counts
        }
        if (error is not null)
        {
            throw error;
        }
        return sequence;
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lifecycle)
        {
            if (_disposed == 1)
            {
                return;
            }
            Volatile.Write(ref _disposed, 1); // from here on Start starts nothing, so _loop below is the last loop
        }
        _replication.Unregister(this);
        _work.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false); // then no subscription can appear any more
        }
        catch (Exception e)
        {
            RedisReplicationLog.StopFailed(_logger, Name, e);
        }
        if (_subscription is { } subscription)
        {
            try
            {
                await subscription.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
            {
                // gone with the connection
            }
        }
        _ready.TrySetCanceled();
        TaskCompletionSource<Exception?>[] waiting;
        lock (_owner.SyncRoot)
        {
            waiting = [.. _waiters.Values];
            _waiters.Clear();
        }
        foreach (TaskCompletionSource<Exception?> waiter in waiting)
        {
            waiter.TrySetException(new ObjectDisposedException(Name, $"The replica of '{Name}' stopped before the change was applied here."));
        }
        _stop.Dispose();
        // _turn is not disposed: a callback already past the check above may still take it (a SemaphoreSlim that never
        // handed out its wait handle holds nothing to release)
    }
}

/// <summary>
/// A change Redis sequenced that this node moved past without applying it: the log no longer held it when a resync read
/// it, or Redis lost its data first. Another node that applied it in time may hold it in its state (and a snapshot).
/// </summary>
internal sealed class ChangeLostException(long sequence, string reason) : Exception($"Change {sequence} was not applied on this node: {reason}.")
{
    public long Sequence { get; } = sequence;

    public string Reason { get; } = reason;
}

/// <summary>A change Redis sequenced (so every node applies it) that this node did not apply within the change timeout.</summary>
internal sealed class ChangePendingException(long sequence, string message) : TimeoutException(message)
{
    public long Sequence { get; } = sequence;
}
