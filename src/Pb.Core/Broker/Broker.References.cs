using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Pb.Banana;
using Pb.Jelly;

namespace Pb;

/// <summary>The broker's object tables: exports, view points, caches owned and held (PB-WIRE.md 3.4 to 3.7).</summary>
internal sealed partial class Broker
{
    // ---------------------------------------------------------------- exports and references (IJellyContext)

    public static bool IsReference(object value) => value is Referenceable or RemoteReference or Viewable or RemoteCache;

    public bool TryWriteReference(OutgoingMessage message, object value, ref BananaWriter writer)
    {
        switch (value)
        {
            case Referenceable referenceable:
                long luid = Export(message, referenceable);
                writer.WriteListHeader(2);
                writer.WriteBytes("remote"u8);
                writer.WriteInt(luid);
                return true;
            case Viewable viewable:
                // One ViewPoint per (viewable, perspective): the same viewable sent for the same avatar keeps its id.
                ViewPoint point;
                lock (_gate)
                {
                    if (!_viewPoints.TryGetValue((viewable, message.Perspective), out point!))
                    {
                        point = new ViewPoint(viewable, message.Perspective);
                        _viewPoints.Add((viewable, message.Perspective), point);
                    }
                }
                writer.WriteListHeader(2);
                writer.WriteBytes("remote"u8);
                writer.WriteInt(Export(message, point));
                return true;
            case RemoteCache held when ReferenceEquals(held.Holder, this):
                writer.WriteListHeader(2);
                writer.WriteBytes("lcache"u8);
                writer.WriteInt(held.CacheId);
                return true;
            case RemoteCache:
                throw new JellyException("A RemoteCache can only be sent back over the connection it came from.");
            case RemoteReference reference:
                if (!ReferenceEquals(reference.Broker, this))
                {
                    throw new JellyException("A RemoteReference can only be sent back over the connection it came from.");
                }
                writer.WriteListHeader(2);
                writer.WriteBytes("local"u8);
                if (reference.IsRoot)
                {
                    writer.WriteBytes(s_root);
                }
                else
                {
                    writer.WriteInt(reference.Luid);
                }
                return true;
            default:
                return false;
        }
    }

    private long Export(OutgoingMessage message, object value)
    {
        lock (_gate)
        {
            if (_closed)
            {
                throw new ConnectionLostException("The connection closed while a reply was being sent.");
            }
            if (_localIds.TryGetValue(value, out long luid))
            {
                _locals[luid].RefCount++;
            }
            else
            {
                if (_locals.Count + _caches.Count >= _options.MaxBrokerReferences)
                {
                    if (++_referenceLimitViolations > 3)
                    {
                        _transport.Abort(new PbProtocolException("The peer exceeded the PB reference limit (BrokerOptions.MaxBrokerReferences) more than three times.") { IsPolicyViolation = true });
                    }
                    throw new PbException($"Maximum PB reference count exceeded ({_options.MaxBrokerReferences}, BrokerOptions.MaxBrokerReferences).");
                }
                luid = ++_nextLuid;
                _locals.Add(luid, new LocalObject(value));
                _localIds.Add(value, luid);
            }
            message.Exports.Add((luid, ExportKind.Reference));
            return luid;
        }
    }

    public object? Resolve(JellyTag tag, long id)
    {
        switch (tag)
        {
            case JellyTag.Remote:
                if (Interlocked.Increment(ref _imported) > _options.MaxImportedReferences)
                {
                    Interlocked.Decrement(ref _imported);
                    // The peer counts this reference as held: release it, since nobody will get it.
                    ThreadPool.UnsafeQueueUserWorkItem(static s => s.Self.SendDecref(s.Id), (Self: this, Id: id), preferLocal: false);
                    throw new JellyException($"Too many references to the peer's objects are held ({_options.MaxImportedReferences}, BrokerOptions.MaxImportedReferences).");
                }
                // Twisted's RemoteReference keeps the perspective it arrived for: calls made through it are
                // serialized for that avatar (a Viewable passed back becomes its view for that avatar).
                return new RemoteReference(this, id, isRoot: false) { Perspective = _receivingPerspective };
            case JellyTag.Local:
                lock (_gate)
                {
                    // Twisted: an unknown id silently becomes None.
                    return _locals.TryGetValue(id, out LocalObject? local) ? local.Value : null;
                }
            case JellyTag.Cached:
                lock (_gate)
                {
                    if (_held.TryGetValue(id, out RemoteCache? held))
                    {
                        _heldOccurrences[id] = _heldOccurrences.GetValueOrDefault(id) + 1;
                        return held;
                    }
                }
                throw new JellyException($"Unknown cache id {id} in 'cached' (KeyError).");
            default: // lcache: our own Cacheable, sent back
                lock (_gate)
                {
                    if (_caches.TryGetValue(id, out OwnedCache? owned))
                    {
                        return owned.Cacheable;
                    }
                }
                throw new JellyException($"Unknown cache id {id} in 'lcache' (KeyError).");
        }
    }

    /// <summary>
    /// The first pass meets a Cacheable (no lock held). Sent before: <c>cached</c>, counted now. New: its state and
    /// observer are made here, where the application's code may take its own locks, and committed by
    /// <see cref="CommitCache"/> under the write lock, in the order messages are written.
    /// </summary>
    public CacheForm? PrepareCache(OutgoingMessage message, object value)
    {
        if (value is not Cacheable cacheable)
        {
            return null;
        }
        long id;
        lock (_gate)
        {
            if (_cacheIds.TryGetValue(cacheable, out id))
            {
                _caches[id].RefCount++;
                message.Exports.Add((id, ExportKind.CacheAgain));
                return new CacheForm(id, false, [], null);
            }
            if (_locals.Count + _caches.Count >= _options.MaxBrokerReferences)
            {
                throw new PbException($"Maximum PB reference count exceeded ({_options.MaxBrokerReferences}, BrokerOptions.MaxBrokerReferences).");
            }
            id = ++_nextLuid;
        }
        CopyableType type = _jellyOptions.Types.Find(cacheable.GetType())
            ?? throw new JellyException($"Cannot send the Cacheable {cacheable.GetType().FullName}: register its tag with JellyTypeRegistry.AddCacheable.");
        var observer = new CacheObserver(this, id, message.Perspective);
        object? state = cacheable.GetStateToCacheAndObserveFor(message.Perspective, observer);
        var form = new CacheForm(id, true, type.TagUtf8, state) { Pending = new PendingCache(cacheable, observer) };
        message.PreparedCaches.Add(form);
        return form;
    }

    /// <summary>Under the write lock: the first send of a Cacheable is committed, unless another message sent it first.</summary>
    public CacheForm CommitCache(OutgoingMessage message, CacheForm form)
    {
        var pending = (PendingCache)form.Pending!;
        message.PreparedCaches.Remove(form);
        lock (_gate)
        {
            if (_closed)
            {
                message.Stopped.Add((pending.Cacheable, pending.Observer));
                throw new ConnectionLostException("The connection closed while a message was being sent.");
            }
            if (_cacheIds.TryGetValue(pending.Cacheable, out long existing))
            {
                // Sent (and committed) by a message written just before this one: the peer has it already.
                _caches[existing].RefCount++;
                message.Exports.Add((existing, ExportKind.CacheAgain));
                message.Stopped.Add((pending.Cacheable, pending.Observer));
                return new CacheForm(existing, false, [], null);
            }
            _caches.Add(form.Id, new OwnedCache(pending.Cacheable, pending.Observer));
            _cacheIds.Add(pending.Cacheable, form.Id);
            message.Exports.Add((form.Id, ExportKind.NewCache));
            message.Created.Add(pending.Observer);
        }
        return form;
    }

    private sealed record PendingCache(Cacheable Cacheable, CacheObserver Observer);

    public object ReceiveCache(long id, CopyableType type)
    {
        if (type.CreateBlank!() is not RemoteCache cache)
        {
            throw new JellyException($"'{type.Tag}' arrived as a cache, but {type.Type.Name} is not a RemoteCache.");
        }
        cache.Holder = this;
        cache.CacheId = id;
        lock (_gate)
        {
            if (!_held.ContainsKey(id) && _held.Count + Volatile.Read(ref _imported) >= _options.MaxImportedReferences)
            {
                throw new JellyException($"Too many of the peer's caches are held ({_options.MaxImportedReferences}, BrokerOptions.MaxImportedReferences).");
            }
            _held[id] = cache;
            _heldOccurrences[id] = 1;
        }
        return cache;
    }

    /// <summary>The holder released its copy: one <c>decache</c> for every time it was received.</summary>
    void ICacheHolder.Release(RemoteCache cache)
    {
        int count;
        lock (_gate)
        {
            if (_closed || !_held.TryGetValue(cache.CacheId, out RemoteCache? held) || !ReferenceEquals(held, cache))
            {
                return;
            }
            count = _heldOccurrences.GetValueOrDefault(cache.CacheId);
            _heldOccurrences[cache.CacheId] = 0;
        }
        for (int i = 0; i < count; i++)
        {
            try
            {
                _transport.Send(cache.CacheId, static (ref BananaWriter w, long id) =>
                {
                    w.WriteListHeader(2);
                    w.WriteBytes("decache"u8);
                    w.WriteInt(id);
                });
            }
            catch (Exception e) when (e is DeadReferenceException or ConnectionLostException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private void ReceiveDecache(long id)
    {
        OwnedCache? released = null;
        lock (_gate)
        {
            if (!_caches.TryGetValue(id, out OwnedCache? owned))
            {
                throw new PbProtocolException($"decache for cache {id}, which the peer does not hold.");
            }
            if (--owned.RefCount == 0)
            {
                _caches.Remove(id);
                _cacheIds.Remove(owned.Cacheable);
                released = owned;
            }
        }
        if (released is not null)
        {
            // As Twisted does: the Cacheable hears first, then the peer gets uncache. A peer that sends decache and
            // leaves at once must not keep the observer (the uncache cannot be sent any more, and the connection's
            // own cleanup no longer lists this cache).
            StopObserving(released);
            try
            {
                _transport.Send(id, static (ref BananaWriter w, long cacheId) =>
                {
                    w.WriteListHeader(2);
                    w.WriteBytes("uncache"u8);
                    w.WriteInt(cacheId);
                });
            }
            catch (Exception e) when (e is ConnectionLostException or ObjectDisposedException)
            {
                // The connection closed meanwhile: nobody to tell.
            }
        }
    }

    private void ReceiveUncache(long id)
    {
        lock (_gate)
        {
            if (!_held.Remove(id))
            {
                throw new PbProtocolException($"uncache for cache {id}, which we do not hold.");
            }
            _heldOccurrences.Remove(id);
        }
    }

    private void StopObserving(OwnedCache cache)
    {
        cache.Observer.Stop();
        try
        {
            cache.Cacheable.StoppedObserving(cache.Observer.Perspective, cache.Observer);
        }
        catch (Exception e)
        {
            LogMethodFailed(_logger, nameof(Cacheable.StoppedObserving), e);
        }
    }

    private readonly Dictionary<long, int> _heldOccurrences = new();
    private int _imported;   // RemoteReferences made and not yet released

    /// <summary>A <see cref="RemoteReference"/> of this connection was released (disposed or collected).</summary>
    internal void ReleaseImport() => Interlocked.Decrement(ref _imported);

    /// <summary>How many of the peer's objects we hold references to.</summary>
    public int ImportedCount => Volatile.Read(ref _imported);

    private sealed class OwnedCache(Cacheable cacheable, CacheObserver observer)
    {
        public Cacheable Cacheable { get; } = cacheable;
        public CacheObserver Observer { get; } = observer;
        public int RefCount { get; set; } = 1;
    }

    /// <summary>
    /// One peer's view of a Cacheable. Calls made before the message that creates the peer's copy is written (the
    /// Cacheable may broadcast between handing out its state and that write) wait in order and go right after it, so
    /// the peer never hears of a cache it does not have yet and misses no change made after its state was taken.
    /// </summary>
    internal sealed class CacheObserver(Broker broker, long id, object? perspective) : IRemoteCacheObserver
    {
        private List<(string Method, object?[] Args, TaskCompletionSource<object?>? Answer)>? _waiting = [];
        private bool _stopped;

        public object? Perspective { get; } = perspective;

        /// <summary>The instruments of the observer's connection.</summary>
        public PbMetrics Metrics => broker.Metrics;

        /// <summary>Cancelled when the observer's connection closes.</summary>
        public CancellationToken Disconnected => broker.Disconnected;

        public Task<object?> CallRemoteAsync(string method, params object?[] args)
        {
            lock (this)
            {
                if (_waiting is not null && !_stopped)
                {
                    var answer = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
                    _waiting.Add((method, args, answer));
                    return answer.Task;
                }
            }
            return broker.CallCacheAsync(id, Perspective, method, args, answerRequired: true);
        }

        public void CallRemoteOneWay(string method, params object?[] args)
        {
            lock (this)
            {
                if (_waiting is not null && !_stopped)
                {
                    _waiting.Add((method, args, null));
                    return;
                }
            }
            _ = broker.CallCacheAsync(id, Perspective, method, args, answerRequired: false);
        }

        /// <summary>The peer's copy exists now: sends what waited, in order, before any later call.</summary>
        public void Activate()
        {
            lock (this)
            {
                List<(string Method, object?[] Args, TaskCompletionSource<object?>? Answer)>? waiting = _waiting;
                _waiting = null;
                if (waiting is null || _stopped)
                {
                    return;
                }
                foreach ((string method, object?[] args, TaskCompletionSource<object?>? answer) in waiting)
                {
                    try
                    {
                        Task<object?> sent = broker.CallCacheAsync(id, Perspective, method, args, answerRequired: answer is not null);
                        if (answer is not null)
                        {
                            _ = sent.ContinueWith(static (t, a) => ((TaskCompletionSource<object?>)a!).TrySetFromTask(t), answer,
                                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        }
                    }
                    catch (Exception e) when (e is InvalidOperationException or DeadReferenceException or ConnectionLostException or ObjectDisposedException or PbException or JellyException or BananaException)
                    {
                        answer?.TrySetException(e);
                    }
                }
            }
        }

        /// <summary>The copy was never made (or is gone): what waited fails, later calls fail at once.</summary>
        public void Stop()
        {
            List<(string Method, object?[] Args, TaskCompletionSource<object?>? Answer)>? waiting;
            lock (this)
            {
                _stopped = true;
                waiting = _waiting;
                _waiting = null;
            }
            foreach ((_, _, TaskCompletionSource<object?>? answer) in waiting ?? [])
            {
                answer?.TrySetException(new InvalidOperationException("The peer no longer observes this cache."));
            }
        }
    }
}
