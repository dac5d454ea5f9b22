using Pb.Banana;
using Pb.Jelly;

namespace Pb;

/// <summary>
/// A <see cref="Cacheable"/> for live state shared by many peers: it keeps its observers for you (thread-safe, one per
/// peer copy, each with its perspective), hands each new observer a state consistent with the changes it will hear
/// about, and broadcasts a change to every observer with one call that never throws and never waits for a slow peer.
/// <para>
/// Make every change and its broadcast under <see cref="SyncRoot"/> (or with <see cref="Update"/>): a peer that starts
/// observing then either gets the state before the change and then the change, or the state after it and not the
/// change. <see cref="GetState"/> runs under the same lock and must return a snapshot (a new list, a record), since the
/// state is serialized after the lock is released.
/// </para>
/// <para>
/// A broadcast writes into each observer's connection buffer and returns: a peer that does not read is closed when its
/// buffer passes <see cref="BrokerOptions.MaxOutgoingBufferSize"/> (so memory stays bounded) and stops observing; a peer
/// that is gone or closing is skipped and counted in the <c>pb.pushes.dropped</c> metric.
/// </para>
/// </summary>
public abstract class LiveCacheable : Cacheable
{
    private IRemoteCacheObserver[] _observers = [];

    /// <summary>The lock that orders changes, broadcasts and new observers.</summary>
    protected object SyncRoot { get; } = new();

    /// <summary>The peers' copies observing now.</summary>
    public int ObserverCount => Volatile.Read(ref _observers).Length;

    /// <summary>The observers now (a snapshot), each with its <see cref="IRemoteCacheObserver.Perspective"/>.</summary>
    protected IReadOnlyList<IRemoteCacheObserver> Observers => Volatile.Read(ref _observers);

    /// <summary>
    /// The state a new copy starts from, for <paramref name="perspective"/> (the avatar the copy is sent for, or null).
    /// Runs under <see cref="SyncRoot"/>; return a snapshot, not the live collections.
    /// </summary>
    protected abstract object? GetState(object? perspective);

    /// <summary>A peer's copy starts observing: called after it was added, outside the lock. Default: nothing.</summary>
    protected virtual void OnObserving(object? perspective, IRemoteCacheObserver observer)
    {
    }

    /// <summary>A peer's copy stopped observing (released, or its connection closed): called after it was removed. Default: nothing.</summary>
    protected virtual void OnStoppedObserving(object? perspective, IRemoteCacheObserver observer)
    {
    }

    /// <inheritdoc/>
    public sealed override object? GetStateToCacheAndObserveFor(object? perspective, IRemoteCacheObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        object? state;
        lock (SyncRoot)
        {
            state = GetState(perspective);
            _observers = [.. _observers, observer];
        }
        OnObserving(perspective, observer);
        return state;
    }

    /// <inheritdoc/>
    public sealed override void StoppedObserving(object? perspective, IRemoteCacheObserver observer)
    {
        bool removed;
        lock (SyncRoot)
        {
            int index = Array.IndexOf(_observers, observer);
            removed = index >= 0;
            if (removed)
            {
                _observers = [.. _observers.AsSpan(0, index), .. _observers.AsSpan(index + 1)];
            }
        }
        if (removed)
        {
            OnStoppedObserving(perspective, observer);
        }
    }

    /// <summary>Makes <paramref name="change"/> and broadcasts <paramref name="method"/>(<paramref name="args"/>) in one step under <see cref="SyncRoot"/>.</summary>
    /// <returns>How many observers the change was sent to.</returns>
    protected int Update(Action change, string method, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(change);
        lock (SyncRoot)
        {
            change();
            return Broadcast(method, args);
        }
    }

    /// <summary>
    /// Calls <paramref name="method"/> on every observer's copy (a one-way call: no answer is awaited). Never throws
    /// for an observer that is gone, closing or too slow; it is skipped and counted.
    /// </summary>
    /// <returns>How many observers the call was sent to.</returns>
    protected int Broadcast(string method, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(args);
        lock (SyncRoot)
        {
            int sent = 0;
            foreach (IRemoteCacheObserver observer in _observers)
            {
                sent += TryPush(observer, method, args) ? 1 : 0;
            }
            return sent;
        }
    }

    /// <summary>
    /// Like <see cref="Broadcast(string, object?[])"/>, with arguments chosen per perspective: <paramref name="argsFor"/>
    /// gets each observer's perspective and answers its arguments, or null to skip that observer (a view filtered for it).
    /// </summary>
    protected int Broadcast(string method, Func<object?, object?[]?> argsFor)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(argsFor);
        lock (SyncRoot)
        {
            int sent = 0;
            foreach (IRemoteCacheObserver observer in _observers)
            {
                if (argsFor(observer.Perspective) is { } args)
                {
                    sent += TryPush(observer, method, args) ? 1 : 0;
                }
            }
            return sent;
        }
    }

    /// <summary>A one-way call that reports a gone or closing peer instead of throwing.</summary>
    internal static bool TryPush(IRemoteCacheObserver observer, string method, object?[] args)
    {
        try
        {
            observer.CallRemoteOneWay(method, args);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or DeadReferenceException or ConnectionLostException or ObjectDisposedException or BananaException)
        {
            // Gone or closing (its StoppedObserving follows), or this one message is too large for it.
            ((observer as Broker.CacheObserver)?.Metrics ?? PbMetrics.Default).DroppedPush();
            return false;
        }
    }
}
