using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Pb.Banana;
using Pb.Jelly;

namespace Pb;

/// <summary>Writes one message; runs under the connection's write lock.</summary>
internal delegate void MessageWriter<TState>(ref BananaWriter writer, TState state);

/// <summary>What the broker needs from its connection.</summary>
internal interface IBrokerTransport
{
    BananaDialect Dialect { get; }

    BananaLimits Limits { get; }

    /// <summary>Serializes one message under the write lock. If <paramref name="write"/> throws, nothing is sent.</summary>
    void Send<TState>(TState state, MessageWriter<TState> write);

    /// <summary>Closes the connection because of <paramref name="reason"/>.</summary>
    void Abort(Exception reason);
}

/// <summary>
/// One PB session over one connection (Twisted's <c>pb.Broker</c>): the objects exported to the peer with their
/// reference counts, our pending calls, and the handling of every message of PB-WIRE.md section 3.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The disconnect token outlives the broker: references read it after the connection closed. A CancellationTokenSource without a timer holds nothing to release.")]
internal sealed partial class Broker : IJellyContext, ICacheHolder
{
    private static readonly byte[] s_root = "root"u8.ToArray();

    private readonly BrokerOptions _options;
    private readonly IBrokerTransport _transport;
    private readonly ILogger _logger;
    private readonly JellyOptions _jellyOptions;
    private readonly Jellier _jellier;       // only under the transport's write lock
    private readonly Unjellier _unjellier;   // only on the read loop

    private readonly object _gate = new();
    private readonly Dictionary<long, LocalObject> _locals = new();
    private readonly Dictionary<object, long> _localIds = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<long, PendingCall> _pending = new();
    private readonly Dictionary<(Viewable, object?), ViewPoint> _viewPoints = new(ViewPointKeyComparer.Instance);
    private object? _sendingPerspective;   // under the write lock: the avatar a message is serialized for
    private readonly List<(long Id, ExportKind Kind)> _exportedInThisMessage = new();
    private List<(PendingCall Call, object? Value, Exception? Error)> _completions = new();   // read loop only
    private readonly Dictionary<long, OwnedCache> _caches = new();
    private readonly Dictionary<Cacheable, long> _cacheIds = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<long, RemoteCache> _held = new();
    private readonly CancellationTokenSource _disconnected = new();
    private object? _root;
    private long _nextLuid;
    private long _nextRequestId;
    private int _referenceLimitViolations;
    private int _runningInvocations;
    private bool _closed;

    public Broker(IBrokerTransport transport, BrokerOptions options, object? root, ILogger logger)
    {
        _transport = transport;
        _options = options;
        _logger = logger;
        _root = root;
        _jellyOptions = CopyableFailure.AddTo(options.Jelly);
        _jellier = new Jellier(_jellyOptions);
        _unjellier = new Unjellier(_jellyOptions);
        RootReference = new RemoteReference(this, 0, isRoot: true);
    }

    /// <summary>The peer's root object.</summary>
    public RemoteReference RootReference { get; }

    public CancellationToken Disconnected => _disconnected.Token;

    public bool IsClosed => Volatile.Read(ref _closed);

    public object? Perspective => _sendingPerspective;

    /// <summary>How many objects the peer holds references to (the root not counted).</summary>
    public int ExportedCount
    {
        get
        {
            lock (_gate)
            {
                return _locals.Count;
            }
        }
    }

    // ---------------------------------------------------------------- sending

    public void SendVersion() => _transport.Send(0, static (ref BananaWriter w, int _) =>
    {
        w.WriteListHeader(2);
        w.WriteBytes("version"u8);
        w.WriteInt(6);
    });

    public Task<object?> CallAsync(RemoteReference target, string method, object?[] args, IReadOnlyDictionary<string, object?>? kwargs, bool answerRequired, CancellationToken cancellationToken) =>
        CallCoreAsync(target, 0, method, args, kwargs, answerRequired, cancellationToken);

    /// <summary>A <c>cachemessage</c>: calls a method of the peer's copy of our cache <paramref name="cacheId"/>.</summary>
    public Task<object?> CallCacheAsync(long cacheId, string method, object?[] args, bool answerRequired)
    {
        lock (_gate)
        {
            if (!_closed && !_caches.ContainsKey(cacheId))
            {
                throw new InvalidOperationException("The peer no longer observes this cache.");
            }
        }
        return CallCoreAsync(null, cacheId, method, args, null, answerRequired, CancellationToken.None);
    }

    private Task<object?> CallCoreAsync(RemoteReference? target, long cacheId, string method, object?[] args, IReadOnlyDictionary<string, object?>? kwargs, bool answerRequired, CancellationToken cancellationToken)
    {
        PendingCall? pending = answerRequired ? new PendingCall { Method = method } : null;
        long requestId;
        lock (_gate)
        {
            if (_closed)
            {
                throw new DeadReferenceException("Calling Stale Broker: the connection is closed.");
            }
            if (pending is not null && _pending.Count >= _options.MaxPendingCalls)
            {
                throw new InvalidOperationException($"Too many calls are waiting for an answer on this connection ({_options.MaxPendingCalls}, BrokerOptions.MaxPendingCalls).");
            }
            requestId = ++_nextRequestId;
            if (pending is not null)
            {
                _pending.Add(requestId, pending);
            }
        }
        try
        {
            SendTransactional((this, requestId, target, cacheId, method, args, kwargs, answerRequired), static (ref BananaWriter w, (Broker Self, long RequestId, RemoteReference? Target, long CacheId, string Method, object?[] Args, IReadOnlyDictionary<string, object?>? Kwargs, bool Answer) s) =>
            {
                w.WriteListHeader(7);
                w.WriteBytes(s.Target is null ? "cachemessage"u8 : "message"u8);
                w.WriteInt(s.RequestId);
                if (s.Target is null)
                {
                    w.WriteInt(s.CacheId);
                }
                else if (s.Target.IsRoot)
                {
                    w.WriteBytes(s_root);
                }
                else
                {
                    w.WriteInt(s.Target.Luid);
                }
                w.WriteUtf8(s.Method);
                w.WriteInt(s.Answer ? 1 : 0);
                s.Self._jellier.JellyTuple(ref w, s.Args, s.Self);
                if (s.Kwargs is null || s.Kwargs.Count == 0)
                {
                    w.WriteListHeader(1);
                    w.WriteRaw(JellyTags.Encoded(JellyTag.Dictionary, w.Dialect));
                }
                else
                {
                    s.Self._jellier.Jelly(ref w, s.Kwargs as Dictionary<string, object?> ?? new Dictionary<string, object?>(s.Kwargs), s.Self);
                }
            });
        }
        catch
        {
            if (pending is not null)
            {
                lock (_gate)
                {
                    _pending.Remove(requestId);
                }
            }
            throw;
        }
        if (pending is null)
        {
            return Task.FromResult<object?>(null);
        }
        if (cancellationToken.CanBeCanceled)
        {
            pending.CancelWith(cancellationToken);
        }
        return pending.Task;
    }

    public void SendDecref(long luid)
    {
        if (IsClosed)
        {
            return;
        }
        try
        {
            _transport.Send(luid, static (ref BananaWriter w, long id) =>
            {
                w.WriteListHeader(2);
                w.WriteBytes("decref"u8);
                w.WriteInt(id);
            });
        }
        catch (Exception e) when (e is DeadReferenceException or ConnectionLostException or ObjectDisposedException)
        {
            // The connection closed meanwhile: nothing to release any more.
        }
    }

    /// <summary>Sends a message; if writing it fails, undoes the exports it made (PB-WIRE.md 3.6).</summary>
    private void SendTransactional<TState>(TState state, MessageWriter<TState> write)
    {
        _transport.Send((this, state, write), static (ref BananaWriter w, (Broker Self, TState State, MessageWriter<TState> Write) s) =>
        {
            s.Self._exportedInThisMessage.Clear();
            try
            {
                s.Write(ref w, s.State);
            }
            catch
            {
                s.Self.RollBackExports();
                throw;
            }
        });
    }

    private void RollBackExports()
    {
        lock (_gate)
        {
            foreach ((long id, ExportKind kind) in _exportedInThisMessage)
            {
                if (kind == ExportKind.Reference)
                {
                    if (_locals.TryGetValue(id, out LocalObject? local) && --local.RefCount == 0)
                    {
                        _locals.Remove(id);
                        _localIds.Remove(local.Value);
                    }
                }
                else if (_caches.TryGetValue(id, out OwnedCache? cache) && (kind == ExportKind.NewCache || --cache.RefCount == 0))
                {
                    _caches.Remove(id);
                    _cacheIds.Remove(cache.Cacheable);
                }
            }
        }
        _exportedInThisMessage.Clear();
    }

    private enum ExportKind : byte { Reference, NewCache, CacheAgain }

    private void SendAnswer(long requestId, object? result, object? perspective)
    {
        try
        {
            SendTransactional((this, requestId, result, perspective), static (ref BananaWriter w, (Broker Self, long RequestId, object? Result, object? Perspective) s) =>
            {
                w.WriteListHeader(3);
                w.WriteBytes("answer"u8);
                w.WriteInt(s.RequestId);
                s.Self._sendingPerspective = s.Perspective;
                try
                {
                    s.Self._jellier.Jelly(ref w, s.Result, s.Self);
                }
                finally
                {
                    s.Self._sendingPerspective = null;
                }
            });
        }
        catch (Exception e) when (e is JellyException or BananaException or PbException)
        {
            // The result could not be sent (an unregistered type, a limit): the caller gets that error instead.
            SendError(requestId, e, "answer");
        }
        catch (Exception e) when (e is DeadReferenceException or ConnectionLostException or ObjectDisposedException)
        {
            // Closed meanwhile; the caller's side fails its pending call.
        }
    }

    private void SendError(long requestId, Exception error, string method)
    {
        CopyableFailure failure = ToFailure(error, method);
        try
        {
            SendTransactional((this, requestId, failure), static (ref BananaWriter w, (Broker Self, long RequestId, CopyableFailure Failure) s) =>
            {
                w.WriteListHeader(3);
                w.WriteBytes("error"u8);
                w.WriteInt(s.RequestId);
                s.Self._jellier.Jelly(ref w, s.Failure, s.Self);
            });
        }
        catch (Exception e) when (e is DeadReferenceException or ConnectionLostException or ObjectDisposedException)
        {
        }
    }

    private static readonly string[] s_exceptionParents = ["builtins.Exception", "builtins.BaseException", "builtins.object"];

    private CopyableFailure ToFailure(Exception error, string method)
    {
        switch (error)
        {
            case PbException pb:
                return CopyableFailure.Create(pb.RemoteTypeName, pb.Message, Parents(pb.RemoteTypeName), null);
            case InsecureJellyException insecure:
                return CopyableFailure.Create(InsecureJellyException.TwistedTypeName, insecure.Message, Parents(InsecureJellyException.TwistedTypeName), null);
            case JellyException jelly:
                return CopyableFailure.Create("builtins.ValueError", jelly.Message, Parents("builtins.ValueError"), null);
        }
        LogMethodFailed(_logger, method, error);
        if (!_options.DetailedErrors)
        {
            return CopyableFailure.Create("builtins.Exception", $"An unexpected error occurred in '{method}'.", s_exceptionParents, null);
        }
        var parents = new List<string>();
        for (Type? t = error.GetType(); t is not null && t != typeof(object); t = t.BaseType)
        {
            parents.Add(t.FullName ?? t.Name);
        }
        parents.AddRange(s_exceptionParents);
        return CopyableFailure.Create(error.GetType().FullName ?? error.GetType().Name, error.Message, parents,
            _options.IncludeTracebacks ? error.ToString() + "\n" : null);
    }

    private static string[] Parents(string type) =>
        type == "builtins.Exception" ? s_exceptionParents : [type, .. s_exceptionParents];

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

    // ---------------------------------------------------------------- receiving (read loop only)

    /// <summary>Handles one complete top-level item. Throws <see cref="PbProtocolException"/> to close the connection.</summary>
    public void HandleMessage(in ReadOnlySequence<byte> item)
    {
        var r = new BananaReader(item, _transport.Dialect, _transport.Limits);
        if (!r.TryReadToken(out BananaToken list) || list.Kind != BananaTokenKind.List || list.Count == 0)
        {
            throw new PbProtocolException(list.Kind == BananaTokenKind.List ? "Empty list received." : "Non-list expression received.");
        }
        BananaToken command = Next(ref r);
        if (command.Kind != BananaTokenKind.Bytes)
        {
            throw new PbProtocolException("A message must start with a command word.");
        }
        int count = list.Count;
        int vocab = command.VocabIndex;
        if (vocab == 0 && command.TryGetSpan(out ReadOnlySpan<byte> word))
        {
            vocab = BananaVocabulary.IndexOf(word);
            if (vocab == 0 && word.SequenceEqual("didNotUnderstand"u8))
            {
                LogDidNotUnderstand(_logger);
                return;
            }
        }
        switch (vocab)
        {
            case 26: // message
                Expect(count, 7, "message");
                ReceiveMessage(ref r, cache: false);
                return;
            case 27: // answer
                Expect(count, 3, "answer");
                ReceiveAnswer(ref r, isError: false);
                return;
            case 28: // error
                Expect(count, 3, "error");
                ReceiveAnswer(ref r, isError: true);
                return;
            case 29: // decref
                Expect(count, 2, "decref");
                ReceiveDecref(ReadInt(ref r));
                return;
            case 19: // version
                Expect(count, 2, "version");
                long version = ReadInt(ref r);
                if (version != 6)
                {
                    throw new PbProtocolException($"Version Incompatibility: 6 {version}");
                }
                return;
            case 25: // cachemessage: a call on our copy of the peer's Cacheable
                Expect(count, 7, "cachemessage");
                ReceiveMessage(ref r, cache: true);
                return;
            case 30: // decache
                Expect(count, 2, "decache");
                ReceiveDecache(ReadInt(ref r));
                return;
            case 31: // uncache
                Expect(count, 2, "uncache");
                ReceiveUncache(ReadInt(ref r));
                return;
            default:
                throw new PbProtocolException("Unknown command received (Twisted closes the connection here too).");
        }
    }

    private static void Expect(int count, int expected, string command)
    {
        if (count != expected)
        {
            throw new PbProtocolException($"'{command}' has {count - 1} fields instead of {expected - 1}.");
        }
    }

    private static BananaToken Next(ref BananaReader r)
    {
        if (!r.TryReadToken(out BananaToken token))
        {
            throw new PbProtocolException("A message ended early.");
        }
        return token;
    }

    private static long ReadInt(ref BananaReader r)
    {
        BananaToken token = Next(ref r);
        if (token.Kind != BananaTokenKind.Integer || token.IsBigInteger)
        {
            throw new PbProtocolException("A message field that must be an integer is not one.");
        }
        return token.Int64;
    }

    private void ReceiveMessage(ref BananaReader r, bool cache)
    {
        long requestId = ReadInt(ref r);
        BananaToken objectToken = Next(ref r);
        BananaToken nameToken = Next(ref r);
        bool answer = ReadInt(ref r) != 0;
        if (nameToken.Kind != BananaTokenKind.Bytes)
        {
            throw new PbProtocolException("A method name must be a byte string.");
        }
        ReadOnlySpan<byte> name = nameToken.TryGetSpan(out ReadOnlySpan<byte> span) ? span : nameToken.ToArray();
        object? target = cache ? FindHeldCache(objectToken) : FindTarget(objectToken);
        if (target is null)
        {
            string id = objectToken.Kind == BananaTokenKind.Integer ? objectToken.Int64.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
            Fail(requestId, answer, cache ? new PbException(id) { RemoteTypeName = "builtins.KeyError" } : new PbException("Invalid Object ID"), name);
            return;
        }
        PbTuple args;
        PbDictionary? kwargs;
        try
        {
            args = _unjellier.Unjelly(ref r, this) as PbTuple ?? throw new PbException("The arguments must be a tuple.") { RemoteTypeName = "builtins.TypeError" };
            if (r.IsAtEmptyDictionary())
            {
                kwargs = null; // almost every call: ["dictionary"] needs no object at all
            }
            else
            {
                object? kw = _unjellier.Unjelly(ref r, this);
                kwargs = kw as PbDictionary ?? (kw is null ? null : throw new PbException("The keyword arguments must be a dictionary.") { RemoteTypeName = "builtins.TypeError" });
            }
        }
        catch (Exception e) when (e is JellyException or PbException)
        {
            Fail(requestId, answer, e, name);
            return;
        }
        // Twisted's three kinds of callee: a ViewPoint calls its Viewable with the perspective it was sent for; an
        // avatar's calls run with the avatar as the perspective; other objects have none.
        object? perspective = null;
        if (target is ViewPoint viewPoint)
        {
            perspective = viewPoint.Perspective;
            target = viewPoint.Viewable;
        }
        else if (target is Avatar)
        {
            perspective = target;
        }
        RemoteMethod? method;
        try
        {
            method = RemoteMethodTable.For(target.GetType()).Find(name);
        }
        catch (InvalidOperationException e)
        {
            // A type whose remote methods cannot be described (two methods with one name, ...): a bug in the
            // application, reported for this call, logged, and never a reason to drop the connection.
            Fail(requestId, answer, e, name);
            return;
        }
        if (method is null)
        {
            Fail(requestId, answer, new PbException($"No such method: remote_{System.Text.Encoding.UTF8.GetString(name)}") { RemoteTypeName = "twisted.spread.flavors.NoSuchMethod" }, name);
            return;
        }
        if (Interlocked.Increment(ref _runningInvocations) > _options.MaxConcurrentInvocations)
        {
            Interlocked.Decrement(ref _runningInvocations);
            Fail(requestId, answer, new PbException($"Too many calls are running for this connection ({_options.MaxConcurrentInvocations}, BrokerOptions.MaxConcurrentInvocations)."), name);
            return;
        }
        ValueTask<object?> result;
        try
        {
            result = method.InvokeAsync(target, method.Bind(args, kwargs, _disconnected.Token, perspective));
        }
        catch (Exception e)
        {
            Interlocked.Decrement(ref _runningInvocations);
            Fail(requestId, answer, e, method.Name);
            return;
        }
        if (result.IsCompleted)
        {
            Interlocked.Decrement(ref _runningInvocations);
            Complete(requestId, answer, result, method.Name, perspective);
            return;
        }
        _ = CompleteLaterAsync(requestId, answer, result, method.Name, perspective);
    }

    private async Task CompleteLaterAsync(long requestId, bool answer, ValueTask<object?> result, string method, object? perspective)
    {
        try
        {
            object? value = await result.ConfigureAwait(false);
            if (answer)
            {
                SendAnswer(requestId, value, perspective);
            }
        }
        catch (Exception e)
        {
            Fail(requestId, answer, e, method);
        }
        finally
        {
            Interlocked.Decrement(ref _runningInvocations);
        }
    }

    private void Complete(long requestId, bool answer, ValueTask<object?> result, string method, object? perspective)
    {
        object? value;
        try
        {
            value = result.Result;
        }
        catch (Exception e)
        {
            Fail(requestId, answer, e, method);
            return;
        }
        if (answer)
        {
            SendAnswer(requestId, value, perspective);
        }
    }

    private void Fail(long requestId, bool answer, Exception error, ReadOnlySpan<byte> method) =>
        Fail(requestId, answer, error, System.Text.Encoding.UTF8.GetString(method));

    private void Fail(long requestId, bool answer, Exception error, string method)
    {
        if (answer)
        {
            SendError(requestId, error, method);
        }
        else if (error is not PbException)
        {
            LogOneWayFailed(_logger, method, error);
        }
    }

    private RemoteCache? FindHeldCache(in BananaToken idToken)
    {
        if (idToken.Kind != BananaTokenKind.Integer || idToken.IsBigInteger)
        {
            return null;
        }
        lock (_gate)
        {
            return _held.GetValueOrDefault(idToken.Int64);
        }
    }

    private object? FindTarget(in BananaToken objectToken)
    {
        if (objectToken.Kind == BananaTokenKind.Bytes)
        {
            return objectToken.TryGetSpan(out ReadOnlySpan<byte> id) && id.SequenceEqual(s_root) ? _root : null;
        }
        if (objectToken.Kind != BananaTokenKind.Integer || objectToken.IsBigInteger)
        {
            return null;
        }
        lock (_gate)
        {
            return _locals.TryGetValue(objectToken.Int64, out LocalObject? local) ? local.Value : null;
        }
    }

    private void ReceiveAnswer(ref BananaReader r, bool isError)
    {
        long requestId = ReadInt(ref r);
        PendingCall? pending;
        lock (_gate)
        {
            if (!_pending.Remove(requestId, out pending))
            {
                throw new PbProtocolException($"'{(isError ? "error" : "answer")}' for request {requestId}, which is not pending.");
            }
        }
        object? value;
        try
        {
            value = _unjellier.Unjelly(ref r, this);
        }
        catch (Exception e) when (e is JellyException)
        {
            // Twisted closes the connection and never fires the caller's Deferred; we fail this call only.
            _completions.Add((pending, null, new JellyException($"The answer to '{pending.Method}' could not be read: {e.Message}", e)));
            return;
        }
        _completions.Add(!isError
            ? (pending, value, null)
            : (pending, null, value is CopyableFailure failure
                ? failure.ToException()
                : new RemoteException(PbValueFormatter.PythonTypeName(value), PbValueFormatter.Format(value))));
    }

    /// <summary>
    /// Called by the read loop after each batch of messages: completes the answered calls on one thread-pool thread.
    /// The callers' continuations run there, one after another, not on the read loop: one thread hand-off per
    /// batch instead of one per answer.
    /// </summary>
    public void EndOfBatch()
    {
        if (_completions.Count == 0)
        {
            return;
        }
        List<(PendingCall Call, object? Value, Exception? Error)> batch = _completions;
        _completions = new List<(PendingCall, object?, Exception?)>(batch.Count);
        ThreadPool.UnsafeQueueUserWorkItem(static b => Complete(b), batch, preferLocal: false);
    }

    private static void Complete(List<(PendingCall Call, object? Value, Exception? Error)> batch)
    {
        // The continuations may call again at once: their messages leave together at the end of the batch.
        PbConnection.BeginDeferredFlush();
        try
        {
            foreach ((PendingCall call, object? value, Exception? error) in batch)
            {
                if (error is null)
                {
                    call.TrySetResult(value);
                }
                else
                {
                    call.TrySetException(error);
                }
            }
        }
        finally
        {
            PbConnection.EndDeferredFlush();
        }
    }

    private void ReceiveDecref(long luid)
    {
        lock (_gate)
        {
            if (!_locals.TryGetValue(luid, out LocalObject? local))
            {
                throw new PbProtocolException($"decref for object {luid}, which is not exported.");
            }
            if (--local.RefCount == 0)
            {
                _locals.Remove(luid);
                _localIds.Remove(local.Value);
                if (local.Value is ViewPoint point)
                {
                    _viewPoints.Remove((point.Viewable, point.Perspective));
                }
            }
        }
    }

    // ---------------------------------------------------------------- shutdown

    /// <summary>The connection is gone: fail every pending call, drop the tables, tell whoever asked.</summary>
    public void ConnectionLost(Exception? reason)
    {
        List<PendingCall> pending;
        List<OwnedCache> owned;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            pending = [.. _pending.Values];
            owned = [.. _caches.Values];
            _pending.Clear();
            _caches.Clear();
            _cacheIds.Clear();
            _held.Clear();
            _heldOccurrences.Clear();
            _locals.Clear();
            _localIds.Clear();
            _viewPoints.Clear();
            _root = null;
        }
        string why = reason is null ? "The connection was closed." : $"The connection was lost: {reason.Message}";
        var failed = new List<(PendingCall, object?, Exception?)>(_completions.Count + pending.Count);
        failed.AddRange(_completions); // answers read just before the end still complete
        _completions.Clear();
        foreach (PendingCall call in pending)
        {
            failed.Add((call, null, new ConnectionLostException(why, reason)));
        }
        if (failed.Count > 0)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static b => Complete(b), failed, preferLocal: false);
        }
        foreach (OwnedCache cache in owned)
        {
            StopObserving(cache);
        }
        try
        {
            _disconnected.Cancel();
        }
        catch (AggregateException e)
        {
            LogDisconnectCallbackFailed(_logger, e);
        }
    }

    private sealed class ViewPointKeyComparer : IEqualityComparer<(Viewable, object?)>
    {
        public static readonly ViewPointKeyComparer Instance = new();

        public bool Equals((Viewable, object?) x, (Viewable, object?) y) => ReferenceEquals(x.Item1, y.Item1) && ReferenceEquals(x.Item2, y.Item2);

        public int GetHashCode((Viewable, object?) key) => HashCode.Combine(RuntimeHelpers.GetHashCode(key.Item1), key.Item2 is null ? 0 : RuntimeHelpers.GetHashCode(key.Item2));
    }

    private sealed class LocalObject(object value)
    {
        public object Value { get; } = value;
        public int RefCount { get; set; } = 1;
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Error, Message = "Remote method '{Method}' failed.")]
    private static partial void LogMethodFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "One-way call to '{Method}' failed.")]
    private static partial void LogOneWayFailed(ILogger logger, string method, Exception exception);

    [LoggerMessage(EventId = 102, Level = LogLevel.Debug, Message = "The peer did not understand a command we sent.")]
    private static partial void LogDidNotUnderstand(ILogger logger);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "A disconnect callback failed.")]
    private static partial void LogDisconnectCallbackFailed(ILogger logger, Exception exception);
}

/// <summary>
/// A call waiting for its answer. Its continuations run where it completes, so the broker completes answers on a
/// thread-pool thread (<see cref="Broker.EndOfBatch"/>), never on the read loop. A cancelled call keeps its entry until the answer arrives (then dropped), so a
/// late answer is never taken for a protocol error; <see cref="BrokerOptions.MaxPendingCalls"/> bounds the table.
/// </summary>
internal sealed class PendingCall() : TaskCompletionSource<object?>(TaskCreationOptions.None)
{
    public string Method { get; init; } = "";

    public void CancelWith(CancellationToken token)
    {
        CancellationTokenRegistration registration = token.UnsafeRegister(static (state, t) => ((PendingCall)state!).TrySetCanceled(t), this);
        Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
