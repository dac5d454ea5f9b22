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

    public bool IsReference(object value) => value is Referenceable or RemoteReference or Viewable or RemoteCache;

    public bool TryWriteReference(object value, ref BananaWriter writer)
    {
        switch (value)
        {
            case Referenceable referenceable:
                long luid = Export(referenceable);
                writer.WriteListHeader(2);
                writer.WriteBytes("remote"u8);
                writer.WriteInt(luid);
                return true;
            case Viewable viewable:
                // One ViewPoint per (viewable, perspective): the same viewable sent for the same avatar keeps its id.
                ViewPoint point;
                lock (_gate)
                {
                    if (!_viewPoints.TryGetValue((viewable, _sendingPerspective), out point!))
                    {
                        point = new ViewPoint(viewable, _sendingPerspective);
                        _viewPoints.Add((viewable, _sendingPerspective), point);
                    }
                }
                writer.WriteListHeader(2);
                writer.WriteBytes("remote"u8);
                writer.WriteInt(Export(point));
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

    private long Export(object value)
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
                        _transport.Abort(new PbProtocolException("The peer exceeded the PB reference limit more than three times."));
                    }
                    throw new PbException($"Maximum PB reference count exceeded ({_options.MaxBrokerReferences}, BrokerOptions.MaxBrokerReferences).");
                }
                luid = ++_nextLuid;
                _locals.Add(luid, new LocalObject(value));
                _localIds.Add(value, luid);
            }
            _exportedInThisMessage.Add((luid, ExportKind.Reference));
            return luid;
        }
    }

    public object? Resolve(JellyTag tag, long id)
    {
        switch (tag)
        {
            case JellyTag.Remote:
                return new RemoteReference(this, id, isRoot: false);
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

    public CacheForm? PrepareCache(object value)
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
                _exportedInThisMessage.Add((id, ExportKind.CacheAgain));
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
        var observer = new CacheObserver(this, id, _sendingPerspective);
        object? state = cacheable.GetStateToCacheAndObserveFor(_sendingPerspective, observer);
        lock (_gate)
        {
            _caches.Add(id, new OwnedCache(cacheable, observer));
            _cacheIds.Add(cacheable, id);
            _exportedInThisMessage.Add((id, ExportKind.NewCache));
        }
        return new CacheForm(id, true, type.TagUtf8, state);
    }

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
            _transport.Send(id, static (ref BananaWriter w, long cacheId) =>
            {
                w.WriteListHeader(2);
                w.WriteBytes("uncache"u8);
                w.WriteInt(cacheId);
            });
            StopObserving(released);
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

    private sealed class OwnedCache(Cacheable cacheable, CacheObserver observer)
    {
        public Cacheable Cacheable { get; } = cacheable;
        public CacheObserver Observer { get; } = observer;
        public int RefCount { get; set; } = 1;
    }

    private sealed class CacheObserver(Broker broker, long id, object? perspective) : IRemoteCacheObserver
    {
        public object? Perspective { get; } = perspective;

        public Task<object?> CallRemoteAsync(string method, params object?[] args) => broker.CallCacheAsync(id, method, args, answerRequired: true);

        public void CallRemoteOneWay(string method, params object?[] args) => _ = broker.CallCacheAsync(id, method, args, answerRequired: false);
    }
}
