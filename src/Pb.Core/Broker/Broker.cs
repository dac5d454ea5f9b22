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

    /// <summary>Closes the connection gracefully (what is queued is sent first) because of <paramref name="reason"/>.</summary>
    Task CloseAsync(Exception reason);

    /// <summary>The connection as the application sees it (for call contexts and logins).</summary>
    IPbConnection Connection { get; }

    /// <summary>Makes the DI scope of each call, or null without a host's services.</summary>
    Microsoft.Extensions.DependencyInjection.IServiceScopeFactory? CallServices { get; }

    /// <summary>
    /// From now until <see cref="ReleaseFlushes"/>, on this thread, messages wait in the buffer instead of each starting
    /// a write (the callers' continuations of one batch of answers send their next calls together). Default: nothing.
    /// </summary>
    void HoldFlushes()
    {
    }

    /// <summary>Ends <see cref="HoldFlushes"/>: what waits leaves now.</summary>
    void ReleaseFlushes()
    {
    }
}

/// <summary>
/// One PB session over one connection (Twisted's <c>pb.Broker</c>): the objects exported to the peer with their
/// reference counts, our pending calls, and the handling of every message of PB-WIRE.md section 3.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The disconnect token outlives the broker: references read it after the connection closed. A CancellationTokenSource without a timer holds nothing to release.")]
internal sealed partial class Broker : IUnjellyContext, ICacheHolder
{
    private static readonly byte[] s_root = "root"u8.ToArray();

    private readonly BrokerOptions _options;
    private readonly IBrokerTransport _transport;
    private readonly ILogger _logger;
    private readonly JellyOptions _jellyOptions;
    private readonly Unjellier _unjellier;   // only on the read loop
    private OutgoingMessage? _spareMessage;  // one kept for reuse; concurrent senders make their own

    private readonly object _gate = new();
    private readonly Dictionary<long, LocalObject> _locals = new();
    private readonly Dictionary<object, long> _localIds = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<long, PendingCall> _pending = new();
    private readonly Dictionary<(Viewable, object?), ViewPoint> _viewPoints = new(ViewPointKeyComparer.Instance);
    private object? _receivingPerspective;   // read loop only: the avatar a message's arguments arrive for
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
    private readonly IPbCallFilter[] _filters;
    private readonly PbMetrics _metrics;

    /// <summary>The instruments this connection reports to.</summary>
    public PbMetrics Metrics => _metrics;
    private readonly Func<object?, System.Security.Claims.ClaimsPrincipal> _userFor;
    private PbLogin[] _logins = [];
    private static readonly System.Security.Claims.ClaimsPrincipal s_nobody = new(new System.Security.Claims.ClaimsIdentity());

    /// <summary>The connection as the application sees it.</summary>
    public IPbConnection Connection => _transport.Connection;

    /// <summary>The connection's logger (for the rooms that work on this session, such as Cred).</summary>
    public ILogger Logger => _logger;

    /// <summary>Closes the connection gracefully because of <paramref name="reason"/> (a policy close, for instance).</summary>
    public Task CloseAsync(Exception reason) => _transport.CloseAsync(reason);

    /// <summary>The logins on this connection now, oldest first.</summary>
    public IReadOnlyList<PbLogin> Logins => Volatile.Read(ref _logins);

    /// <summary>A login handed out an avatar (a portal calls it).</summary>
    public void AddLogin(PbLogin login)
    {
        lock (_gate)
        {
            _logins = [.. _logins, login];
        }
    }

    /// <summary>A login's session ended (logout).</summary>
    public void RemoveLogin(PbLogin login)
    {
        lock (_gate)
        {
            int index = Array.IndexOf(_logins, login);
            if (index >= 0)
            {
                _logins = [.. _logins.AsSpan(0, index), .. _logins.AsSpan(index + 1)];
            }
        }
    }

    /// <summary>The caller of a call made for <paramref name="perspective"/> (see <see cref="PbCallContext.User"/>).</summary>
    private System.Security.Claims.ClaimsPrincipal UserFor(object? perspective)
    {
        PbLogin[] logins = Volatile.Read(ref _logins);
        if (perspective is not null)
        {
            foreach (PbLogin login in logins)
            {
                if (ReferenceEquals(login.Avatar, perspective))
                {
                    return login.User;
                }
            }
        }
        return logins.Length > 0 ? logins[^1].User : _transport.Connection.User ?? s_nobody;
    }

    public Broker(IBrokerTransport transport, BrokerOptions options, object? root, ILogger logger)
    {
        _transport = transport;
        _options = options;
        _logger = logger;
        _root = root;
        _jellyOptions = CopyableFailure.AddTo(options.Jelly);
        _filters = options.FrozenCallFilters;
        _metrics = PbMetrics.For(options.MeterFactory);
        _userFor = UserFor;
        _unjellier = new Unjellier(_jellyOptions);
        RootReference = new RemoteReference(this, 0, isRoot: true);
    }

    /// <summary>Publishes <paramref name="root"/> as <c>"root"</c> (before any message is handled).</summary>
    public void SetRoot(object? root) => _root = root;

    /// <summary>The peer's root object.</summary>
    public RemoteReference RootReference { get; }

    public CancellationToken Disconnected => _disconnected.Token;

    /// <summary>The peer released its last reference to one of our objects (on the read loop).</summary>
    public event Action<object>? Released;

    public bool IsClosed => Volatile.Read(ref _closed);

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

    public Task<object?> CallAsync(RemoteReference target, string method, object?[] args, IReadOnlyDictionary<string, object?>? kwargs, bool answerRequired, CancellationToken cancellationToken, Type? resultType = null) =>
        CallCoreAsync(target, 0, target.Perspective, method, args, kwargs, answerRequired, cancellationToken, resultType);

    /// <summary>A <c>cachemessage</c>: calls a method of the peer's copy of our cache <paramref name="cacheId"/>.</summary>
    public Task<object?> CallCacheAsync(long cacheId, object? perspective, string method, object?[] args, bool answerRequired)
    {
        lock (_gate)
        {
            if (!_closed && !_caches.ContainsKey(cacheId))
            {
                throw new InvalidOperationException("The peer no longer observes this cache.");
            }
        }
        return CallCoreAsync(null, cacheId, perspective, method, args, null, answerRequired, CancellationToken.None);
    }

    private Task<object?> CallCoreAsync(RemoteReference? target, long cacheId, object? perspective, string method, object?[] args, IReadOnlyDictionary<string, object?>? kwargs, bool answerRequired, CancellationToken cancellationToken, Type? resultType = null)
    {
        PendingCall? pending = answerRequired ? new PendingCall { Method = method, ResultPlan = resultType is null ? null : Jelly.TypedPlan.For(resultType) } : null;
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
        Dictionary<string, object?>? keywords = kwargs is null || kwargs.Count == 0 ? null : kwargs as Dictionary<string, object?> ?? new Dictionary<string, object?>(kwargs);
        try
        {
            SendJellied((requestId, target, cacheId, method, args, keywords, answerRequired), perspective,
                static (m, s) =>
                {
                    foreach (object? arg in s.Item5)
                    {
                        m.Arguments.ScanValue(arg, 1);
                    }
                    if (s.Item6 is not null)
                    {
                        m.KeywordArguments.BeginMessage(m, m.MaxDepth);
                        m.KeywordArguments.ScanValue(s.Item6, 0);
                    }
                },
                static (ref BananaWriter w, (OutgoingMessage M, (long RequestId, RemoteReference? Target, long CacheId, string Method, object?[] Args, Dictionary<string, object?>? Kwargs, bool Answer) S) x) =>
                {
                    var s = x.S;
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
                    Jellier.WriteTupleHeader(ref w, s.Args.Length);
                    foreach (object? arg in s.Args)
                    {
                        x.M.Arguments.WriteValue(ref w, arg, 1);
                    }
                    if (s.Kwargs is null)
                    {
                        w.WriteListHeader(1);
                        w.WriteRaw(JellyTags.Encoded(JellyTag.Dictionary, w.Dialect));
                    }
                    else
                    {
                        x.M.KeywordArguments.WriteValue(ref w, s.Kwargs, 0);
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

    /// <summary>The first pass of a message: runs with no lock held, and may run the application's code.</summary>
    private delegate void MessageScanner<TState>(OutgoingMessage message, TState state);

    /// <summary>
    /// Sends a message with jellied values in two passes: <paramref name="scan"/> first, with no lock held (it runs
    /// the application's Copyable and Cacheable code), then <paramref name="write"/> under the write lock (bytes only).
    /// If the message is not sent, the exports it made are undone (PB-WIRE.md 3.6); observers handed out for nothing
    /// are stopped.
    /// </summary>
    private void SendJellied<TState>(TState state, object? perspective, MessageScanner<TState> scan, MessageWriter<(OutgoingMessage, TState)> write)
    {
        OutgoingMessage message = Interlocked.Exchange(ref _spareMessage, null) ?? new OutgoingMessage(this, _jellyOptions);
        message.Perspective = perspective;
        message.MaxDepth = _transport.Limits.MaxDepth;
        bool sent = false;
        try
        {
            message.Arguments.BeginMessage(message, message.MaxDepth);
            scan(message, state);
            _transport.Send((message, state), write);
            sent = true;
        }
        finally
        {
            message.EndJelliers();
            if (!sent)
            {
                RollBackExports(message);
            }
            else
            {
                foreach (CacheObserver created in message.Created)
                {
                    created.Activate();
                }
            }
            StopUnused(message);
            message.Reset();
            Interlocked.CompareExchange(ref _spareMessage, message, null);
        }
    }

    private void RollBackExports(OutgoingMessage message)
    {
        lock (_gate)
        {
            foreach ((long id, ExportKind kind) in message.Exports)
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
                    message.Stopped.Add((cache.Cacheable, cache.Observer));
                }
            }
        }
        message.Exports.Clear();
    }

    /// <summary>Outside every lock: tells Cacheables about observers that observe nothing (prepared, never committed).</summary>
    private void StopUnused(OutgoingMessage message)
    {
        foreach (CacheForm form in message.PreparedCaches)
        {
            if (form.Pending is PendingCache pending)
            {
                message.Stopped.Add((pending.Cacheable, pending.Observer));
            }
        }
        foreach ((Cacheable cacheable, IRemoteCacheObserver observer) in message.Stopped)
        {
            (observer as CacheObserver)?.Stop();
            try
            {
                cacheable.StoppedObserving(observer.Perspective, observer);
            }
            catch (Exception e)
            {
                LogMethodFailed(_logger, nameof(Cacheable.StoppedObserving), e);
            }
        }
    }

    internal enum ExportKind : byte { Reference, NewCache, CacheAgain }

    private void SendAnswer(long requestId, object? result, object? perspective)
    {
        try
        {
            SendJellied((requestId, result), perspective,
                static (m, s) => m.Arguments.ScanValue(s.Item2, 0),
                static (ref BananaWriter w, (OutgoingMessage M, (long RequestId, object? Result) S) x) =>
                {
                    w.WriteListHeader(3);
                    w.WriteBytes("answer"u8);
                    w.WriteInt(x.S.RequestId);
                    x.M.Arguments.WriteValue(ref w, x.S.Result, 0);
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
            SendJellied((requestId, failure), null,
                static (m, s) => m.Arguments.ScanValue(s.Item2, 0),
                static (ref BananaWriter w, (OutgoingMessage M, (long RequestId, CopyableFailure Failure) S) x) =>
                {
                    w.WriteListHeader(3);
                    w.WriteBytes("error"u8);
                    w.WriteInt(x.S.RequestId);
                    x.M.Arguments.WriteValue(ref w, x.S.Failure, 0);
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
                return CopyableFailure.Create(pb.RemoteTypeName, pb.Message,
                    pb.RemoteBaseTypes.Count == 0 ? Parents(pb.RemoteTypeName) : [pb.RemoteTypeName, .. pb.RemoteBaseTypes, .. s_exceptionParents], null);
            case InsecureJellyException insecure:
                return CopyableFailure.Create(InsecureJellyException.TwistedTypeName, insecure.Message, Parents(InsecureJellyException.TwistedTypeName), null);
            case JellyException jelly:
                return CopyableFailure.Create("builtins.ValueError", jelly.Message, Parents("builtins.ValueError"), null);
            case BananaException banana:
                // Our own send-side limit (the text names the setting, nothing of the value).
                return CopyableFailure.Create("builtins.ValueError", banana.Message, Parents("builtins.ValueError"), null);
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

    /// <summary>How the answer is read straight into the type the caller asked for (CallRemoteAsync&lt;T&gt;); null: generic.</summary>
    public Jelly.TypedPlan? ResultPlan { get; init; }

    public void CancelWith(CancellationToken token)
    {
        CancellationTokenRegistration registration = token.UnsafeRegister(static (state, t) => ((PendingCall)state!).TrySetCanceled(t), this);
        Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
