using Pb.Banana;
using Pb.Jelly;

namespace Pb.Redis;

/// <summary>
/// A <see cref="Cacheable"/> whose state is replicated, in order, on every node of a scale-out through Redis. A change
/// is a name and arguments (plain values and records, jellied): <see cref="ChangeAsync(string, object?[])"/> submits it,
/// Redis gives it the object's next sequence number (one atomic script: the number, a log entry, a publish), and every
/// node, this one included, applies it with <see cref="Apply"/> in sequence and pushes it to its own observers (the
/// peers' <see cref="RemoteCache"/>s on its connections) as a one-way <c>observe_&lt;change&gt;</c> call. Observers stay
/// local: no reference ever crosses nodes.
/// <para>
/// <see cref="Apply"/> must be deterministic (the same state and change give the same state on every node) and must
/// check before it changes anything: what it throws reaches the change's caller, and every node skips that change alike.
/// </para>
/// <para>
/// Guarantees: each replica applies every change exactly once and in order; a missed message is read back from the
/// log; a node that starts late, or lost more than the log holds, loads the latest snapshot and replays the log after
/// it, then gives its observers the whole state again (<see cref="ResyncMethod"/>). While Redis is unreachable, changes
/// fail at once and the replica keeps serving its last state. docs/scale-out.md has the design and every fault.
/// </para>
/// </summary>
/// <typeparam name="TState">The state: a record or class that jelly carries (its members plain values, lists, dicts, records).</typeparam>
public abstract class ReplicatedCacheable<TState> : LiveCacheable, IReplicaOwner, IAsyncDisposable where TState : class
{
    private readonly Replica _replica;
    private readonly TState _initial;
    private readonly JellyOptions _jellyOptions;
    private TState _state;
    private int _started;

    /// <summary>
    /// Creates the replica of the object <paramref name="name"/> (the same name on every node; letters, digits and
    /// <c>-_.:</c>); <paramref name="initialState"/> is the state before the first change. The replica starts loading
    /// from Redis at its first use (<see cref="WhenReady"/>, a change, a peer's copy), after the constructors ran.
    /// </summary>
    protected ReplicatedCacheable(RedisReplication replication, string name, TState initialState)
    {
        ArgumentNullException.ThrowIfNull(replication);
        ArgumentNullException.ThrowIfNull(initialState);
        _jellyOptions = replication.JellyOptions;
        _initial = initialState;
        _state = Copy(initialState);
        _replica = new Replica(replication, this, name);
        replication.Register(_replica); // started at first use, once the derived constructors ran
    }

    /// <summary>The object's name across nodes.</summary>
    public string Name => _replica.Name;

    /// <summary>The sequence number of the last change applied here.</summary>
    public long Sequence => _replica.Sequence;

    /// <summary>Completes when the replica has loaded the object's state from Redis for the first time.</summary>
    public Task WhenReady
    {
        get
        {
            EnsureStarted();
            return _replica.WhenReady;
        }
    }

    private void EnsureStarted()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            _replica.Start();
        }
    }

    // The observers on this node, the lock (SyncRoot) and the pushes that never throw are LiveCacheable's. Changes are
    // applied under SyncRoot; LiveCacheable's Update and Broadcast stay local to this node (a change goes through
    // ChangeAsync to reach every node).
    object IReplicaOwner.SyncRoot => SyncRoot;

    /// <summary>The state now (read it under <c>SyncRoot</c>, and do not change it: only <see cref="Apply"/> does).</summary>
    protected TState State => _state;

    /// <summary>
    /// The observer method that gets the whole state again after the state jumped (a late start, a resync from a
    /// snapshot): the peers' caches implement <c>observe_resync(state)</c>. Default <c>"resync"</c>.
    /// </summary>
    protected virtual string ResyncMethod => "resync";

    /// <summary>
    /// Applies change <paramref name="change"/>, number <paramref name="sequence"/>, to <paramref name="state"/> and
    /// returns the new state (the same object when changed in place). Deterministic (the sequence number is the same on
    /// every node, so it can serve as an id); runs under <c>SyncRoot</c>.
    /// </summary>
    protected abstract TState Apply(TState state, long sequence, string change, IReadOnlyList<object?> args);

    /// <summary>What a new copy for <paramref name="perspective"/> starts from (a snapshot, not the live collections). Runs under <c>SyncRoot</c>.</summary>
    protected abstract object? GetState(TState state, object? perspective);

    /// <inheritdoc/>
    protected sealed override object? GetState(object? perspective)
    {
        EnsureStarted();
        return GetState(_state, perspective);
    }

    /// <summary>
    /// The arguments observer <paramref name="perspective"/> gets for a change, or null to skip it (a view filtered per
    /// perspective). Default: the change's own arguments. Runs under <c>SyncRoot</c>.
    /// </summary>
    protected virtual object?[]? ObserverArgs(object? perspective, long sequence, string change, IReadOnlyList<object?> args) =>
        args as object?[] ?? [.. args]; // the decoded array itself, shared by every observer (a push only reads it)

    /// <summary>The observer method a change is pushed as (<c>observe_&lt;method&gt;</c> on the peers' copies). Default: the change's own name.</summary>
    protected virtual string ObserverMethod(string change) => change;

    /// <summary>
    /// Submits a change and completes once this node applied it, with its sequence number. Fails with a
    /// <see cref="PbException"/> (its message reaches a PB caller) at once while Redis is unreachable, or after
    /// <see cref="RedisReplicationOptions.ChangeTimeout"/> when Redis is too slow; or with what <see cref="Apply"/> threw for it.
    /// </summary>
    protected Task<long> ChangeAsync(string change, params object?[] args) => ChangeAsync(change, args, CancellationToken.None);

    /// <inheritdoc cref="ChangeAsync(string, object?[])"/>
    protected async Task<long> ChangeAsync(string change, object?[] args, CancellationToken cancellationToken) =>
        (await SubmitAsync(change, args, -1, cancellationToken).ConfigureAwait(false))!.Value;

    /// <summary>
    /// Compare-and-set: submits the change only if the object's last sequence number is still
    /// <paramref name="expectedSequence"/> (decide from <see cref="State"/> at <see cref="Sequence"/>, e.g. "join unless
    /// full"); answers null when another change came first (look at the state again and retry).
    /// </summary>
    protected Task<long?> ChangeIfAsync(long expectedSequence, string change, object?[] args, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedSequence);
        return SubmitAsync(change, args, expectedSequence, cancellationToken);
    }

    private async Task<long?> SubmitAsync(string change, object?[] args, long expected, CancellationToken cancellationToken)
    {
        RedisKeys.CheckName(change, nameof(change));
        ArgumentNullException.ThrowIfNull(args);
        EnsureStarted();
        byte[] arguments;
        try
        {
            arguments = JellySerializer.Serialize(new PbTuple(args), options: _jellyOptions);
        }
        catch (Exception e) when (e is JellyException or BananaException)
        {
            throw new PbException($"The change '{change}' of '{Name}' cannot be replicated: {e.Message} A change carries plain values and records only (a reference means something on one connection only).", e);
        }
        if (arguments.Length > _replica.MaxChangeSize)
        {
            throw new PbException($"The change '{change}' of '{Name}' is {arguments.Length} bytes, more than RedisReplicationOptions.MaxChangeSize ({_replica.MaxChangeSize}).");
        }
        try
        {
            return await _replica.SubmitAsync(change, arguments, expected, cancellationToken).ConfigureAwait(false);
        }
        catch (ChangePendingException e)
        {
            // Sequenced: every node applies it, this one too, only later. A retry would apply it twice.
            throw new PbException($"Change {e.Sequence} ('{change}') of '{Name}' was accepted and will be applied, but not on this node within RedisReplicationOptions.ChangeTimeout: do not submit it again.", e);
        }
        catch (ChangeLostException e)
        {
            // Sequenced, then moved past here unapplied: whether it counts depends on what the other nodes held.
            throw new PbException($"Change {e.Sequence} ('{change}') of '{Name}' was not applied on this node: {e.Reason}. Another node may have applied it: look at the state before submitting it again.", e);
        }
        catch (StackExchange.Redis.RedisConnectionException e) when (e.CommandStatus is StackExchange.Redis.CommandStatus.WaitingToBeSent or StackExchange.Redis.CommandStatus.WaitingInBacklog
            || e.FailureType is StackExchange.Redis.ConnectionFailureType.UnableToResolvePhysicalConnection)
        {
            // Never sent (no connection to send it on): nothing happened.
            throw new PbException($"'{Name}' cannot change now: its shared state is unavailable ({e.Message}). Try again later.", e);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisServerException)
        {
            // Redis refused the script: nothing happened.
            throw new PbException($"'{Name}' cannot change now: its shared state refused it ({e.Message}). Try again later.", e);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // Sent, but no answer came (a lost connection, a Redis too slow): the script may have run, or may run yet.
            throw new PbException($"'{Name}' cannot change now: its shared state is unavailable ({e.Message}). The change may still be applied if Redis received it: look at the state before submitting it again.", e);
        }
    }

    byte[] IReplicaOwner.SerializeState(bool initial) => JellySerializer.Serialize(initial ? _initial : _state, options: _jellyOptions);

    void IReplicaOwner.LoadState(ReadOnlyMemory<byte>? snapshot) =>
        _state = snapshot is { } bytes ? JellyConvert.To<TState>(JellySerializer.Deserialize(bytes, options: _jellyOptions)) : Copy(_initial);

    Exception? IReplicaOwner.ApplyChange(long sequence, string change, object?[] args, bool push)
    {
        try
        {
            _state = Apply(_state, sequence, change, args) ?? throw new InvalidOperationException($"{GetType().Name}.Apply returned null for '{change}'.");
        }
        catch (Exception e)
        {
            return e;
        }
        if (push && ObserverCount > 0)
        {
            try
            {
                Broadcast(ObserverMethod(change), perspective => ObserverArgs(perspective, sequence, change, args));
            }
            catch (Exception)
            {
                // The change is applied: a failing ObserverArgs or ObserverMethod must not keep the sequence number from
                // moving on (the change would be applied again). Its caller still succeeds; the pushes it missed are lost
                // for this node's observers until their next resync.
            }
        }
        return null;
    }

    void IReplicaOwner.PushResync()
    {
        if (ObserverCount > 0)
        {
            Broadcast(ResyncMethod, perspective =>
            {
                try
                {
                    return [GetState(_state, perspective)];
                }
                catch (Exception)
                {
                    // One perspective's GetState failing must not keep the others' copies on the old state (nor stop
                    // the resync): that copy misses this resync, as with a failing ObserverArgs.
                    return null;
                }
            });
        }
    }

    /// <summary>A copy of the initial state made through jelly, so changes applied in place never touch the initial state itself.</summary>
    private TState Copy(TState state) => JellyConvert.To<TState>(JellySerializer.Deserialize(JellySerializer.Serialize(state, options: _jellyOptions), options: _jellyOptions));

    /// <summary>Stops replicating on this node (the object's state in Redis stays).</summary>
    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return _replica.DisposeAsync();
    }
}
