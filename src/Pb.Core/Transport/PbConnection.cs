using System.Buffers;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pb.Banana;

namespace Pb;

/// <summary>
/// One PB connection over a duplex pipe (a TCP socket, a WebSocket): dialect negotiation, then a broker fed by
/// one read loop, with writes queued and flushed by one write loop so the reader never waits on the writer.
/// </summary>
public sealed partial class PbConnection : IBrokerTransport, IPbConnection, IAsyncDisposable
{
    private readonly IDuplexPipe _pipe;
    private readonly bool _isServer;
    private readonly BrokerOptions _options;
    private readonly Func<PbConnection, object?>? _rootFactory;
    private readonly ILogger _logger;
    private readonly IAsyncDisposable? _owner;
    private readonly BananaParser _parser;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();
    private readonly object _writeLock = new();
    private OutgoingBuffer _current = new();
    private OutgoingBuffer _spare = new();
    private bool _flushing;            // a flush is running; it takes whatever was queued meanwhile
    private bool _flushDeferred;       // the read loop flushes what is queued when its batch ends

    // While the read loop handles a batch of incoming messages, the answers it writes wait and leave in one write
    // when the batch is done, instead of one write each. Only this connection's own read loop defers, and only its
    // own writes: a write from any other thread (a continuation, a push) starts its flush at once, so code that
    // blocks on an answer never waits on a message held back somewhere else.
    [ThreadStatic] private static PbConnection? t_deferring;
    // The connection whose batch of answers this thread completes (IBrokerTransport.HoldFlushes).
    [ThreadStatic] private static PbConnection? t_holding;
    private bool _releaseQueued;       // a flush of what is held is queued on another thread (see RequestFlushLocked)
    private TaskCompletionSource? _flushIdle;   // completed when the running flush ends (made only when awaited)
    private TaskCompletionSource? _drained;     // completed when the backlog falls under half the outgoing limit
    private long _inFlight;                      // bytes of the batch being written
    private bool _writesClosed;
    private Exception? _closeReason;
    private Broker? _broker;
    private int _shutdown;

    /// <summary>
    /// PB over any duplex pipe (a socket, a WebSocket, an in-memory pipe): the seam <see cref="PbServer"/>,
    /// <see cref="PbClient"/> and Pb.AspNetCore all run PB through, so another host (or a test) can do the same. Set the
    /// init properties, then call <see cref="Start"/>. A server (<paramref name="isServer"/>) offers the dialects and
    /// publishes the object <paramref name="rootFactory"/> makes as <c>"root"</c>; <paramref name="owner"/>, when given,
    /// is disposed after the connection closed (the pipe's transport).
    /// </summary>
    public PbConnection(IDuplexPipe pipe, bool isServer, BrokerOptions options, Func<PbConnection, object?>? rootFactory = null, ILogger? logger = null, IAsyncDisposable? owner = null)
    {
        _pipe = pipe;
        _isServer = isServer;
        _options = options;
        _rootFactory = rootFactory;
        _logger = logger ?? NullLogger.Instance;
        _owner = owner;
        _parser = new BananaParser(BananaDialect.None, options.BananaLimits);
        _metrics = PbMetrics.For(options.MeterFactory);
    }

    private readonly PbMetrics _metrics;

    /// <summary>The negotiated dialect (<see cref="BananaDialect.None"/> until negotiation ends).</summary>
    public BananaDialect Dialect { get; private set; }

    /// <summary>The settings of this connection.</summary>
    public BrokerOptions Options => _options;

    /// <summary>The banana limits in force.</summary>
    public BananaLimits Limits => _options.BananaLimits;

    /// <summary>Completes when the connection has closed and everything waiting on it has been told.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Why the connection closed, when it closed because of an error.</summary>
    public Exception? CloseReason => _closeReason;

    internal Broker Broker => _broker ?? throw new InvalidOperationException("The connection is not ready yet.");

    /// <summary>Completes when negotiation is done and calls can flow.</summary>
    public Task WhenReadyAsync(CancellationToken cancellationToken = default) => _ready.Task.WaitAsync(cancellationToken);

    /// <summary>The peer's root object (after <see cref="WhenReadyAsync"/>).</summary>
    public RemoteReference RootObject => Broker.RootReference;

    /// <summary>
    /// The user the transport authenticated (the WebSocket upgrade request's user in ASP.NET Core); null on raw TCP.
    /// A portal root logs this user in with <c>loginAuthenticated</c>.
    /// </summary>
    public System.Security.Claims.ClaimsPrincipal? User { get; init; }

    /// <inheritdoc/>
    public string ConnectionId { get; init; } = NewConnectionId();

    /// <inheritdoc/>
    public string TransportName { get; init; } = "tcp";

    /// <inheritdoc/>
    public System.Net.EndPoint? RemoteEndPoint { get; init; }

    /// <summary>Makes the DI scope of each call received (<see cref="PbCallContext.Services"/>); null for none.</summary>
    public Microsoft.Extensions.DependencyInjection.IServiceScopeFactory? CallServices { get; init; }

    /// <inheritdoc/>
    public IReadOnlyList<PbLogin> Logins => _broker?.Logins ?? [];

    /// <inheritdoc/>
    public bool IsConnected => !Volatile.Read(ref _writesClosed) && _broker is { IsClosed: false };

    /// <inheritdoc/>
    public CancellationToken Disconnected => _broker?.Disconnected ?? _closing.Token;

    IPbConnection IBrokerTransport.Connection => this;

    ValueTask IPbConnection.CloseAsync() => DisposeAsync();

    private static long s_lastConnectionId;

    private static string NewConnectionId() =>
        "pb-" + Interlocked.Increment(ref s_lastConnectionId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc/>
    public override string ToString() => $"{TransportName} connection {ConnectionId}";

    /// <summary>Bytes queued or being written to the peer now.</summary>
    internal long PendingOutgoingBytes
    {
        get
        {
            lock (_writeLock)
            {
                return _current.WrittenCount + _inFlight;
            }
        }
    }

    /// <summary>How many of our objects the peer holds references to now (the root not counted).</summary>
    public int ExportedObjectCount => _broker?.ExportedCount ?? 0;

    /// <summary>
    /// When set, the connection closes then as a policy violation (WebSocket 1008): the identity it carries (a JWT's
    /// <c>exp</c>, a cookie ticket's expiry) runs out. Default null.
    /// </summary>
    public DateTimeOffset? CloseAt { get; init; }

    /// <summary>The clock of <see cref="CloseAt"/>. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Starts reading and negotiating; once only.</summary>
    public void Start()
    {
        _metrics.Connections.Add(1);
        _ = ReadLoopAsync();
        if (CloseAt is { } expiry)
        {
            _ = Pb.Internal.LongDelay.CloseAtAsync(CloseAsync, expiry, TimeProvider, _closing.Token);
        }
        if (_options.HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            _ = WatchHandshakeAsync();
        }
    }

    /// <summary>Closes a connection whose dialect negotiation has not finished within <see cref="BrokerOptions.HandshakeTimeout"/>.</summary>
    private async Task WatchHandshakeAsync()
    {
        try
        {
            await _ready.Task.WaitAsync(_options.HandshakeTimeout, _closing.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            ((IBrokerTransport)this).Abort(new PbProtocolException($"The peer did not finish the banana handshake within {_options.HandshakeTimeout.TotalSeconds:0.###} s (BrokerOptions.HandshakeTimeout).") { IsPolicyViolation = true });
        }
        catch (Exception)
        {
            // Closed, or negotiation failed: the read loop reports it.
        }
    }

    // ---------------------------------------------------------------- reading

    private async Task ReadLoopAsync()
    {
        Exception? reason = null;
        PipeReader input = _pipe.Input;
        try
        {
            if (_isServer)
            {
                SendRaw(BananaNegotiation.ServerOffer);
            }
            while (true)
            {
                ReadResult read = await input.ReadAsync(_closing.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                long examinedBefore = buffer.Length;
                // Answers written while this batch is handled go out in one write when it is done.
                t_deferring = this;
                try
                {
                    while (true)
                    {
                        if (_broker is null)
                        {
                            if (!_parser.TryParse(ref buffer, out object? negotiation))
                            {
                                break;
                            }
                            Negotiate(negotiation);
                            continue;
                        }
                        if (!_parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
                        {
                            break;
                        }
                        if (item.IsSingleSegment)
                        {
                            _broker.HandleMessage(item);
                        }
                        else
                        {
                            HandleContiguous(item);
                        }
                    }
                }
                finally
                {
                    try
                    {
                        if (_metrics.BytesReceived.Enabled)
                        {
                            _metrics.BytesReceived.Add(examinedBefore - buffer.Length);
                        }
                        input.AdvanceTo(buffer.Start, buffer.End);
                        _broker?.EndOfBatch();
                    }
                    finally
                    {
                        // Always, even when closing made AdvanceTo throw: a scope left open would hold back this
                        // connection's later flushes.
                        t_deferring = null;
                        EndDeferredFlush();
                    }
                }
                if (read.IsCompleted || read.IsCanceled)
                {
                    break;
                }
                // Back-pressure: while our answers wait for the peer to read them, stop reading its calls.
                Task? drained = WhenBacklogDrained();
                if (drained is not null)
                {
                    await drained.WaitAsync(_closing.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is BananaException or PbProtocolException)
        {
            LogProtocolError(_logger, e.Message);
            reason = e;
        }
        catch (Exception e)
        {
            LogUnexpectedError(_logger, e);
            reason = e;
        }
        await ShutdownAsync(reason).ConfigureAwait(false);
    }

    /// <summary>
    /// An item spread over several pipe segments is copied into one pooled buffer first: the decoders' fast path
    /// works on one span, and a copy of even a large message costs far less than reading it piecewise. Nothing
    /// decoded keeps a reference to the buffer.
    /// </summary>
    private void HandleContiguous(in ReadOnlySequence<byte> item)
    {
        int length = checked((int)item.Length);
        byte[] rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            item.CopyTo(rented);
            _broker!.HandleMessage(new ReadOnlySequence<byte>(rented, 0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void Negotiate(object? message)
    {
        BananaDialect dialect;
        if (_isServer)
        {
            dialect = BananaNegotiation.ParseChoice(message);
        }
        else
        {
            if (!BananaNegotiation.TrySelect(message, out dialect))
            {
                throw new PbProtocolException("The server offered no dialect we speak.");
            }
            if (dialect != _options.PreferredDialect && message is List<object?> offer
                && offer.Exists(o => o is byte[] b && b.AsSpan().SequenceEqual(BananaNegotiation.ChoiceFor(_options.PreferredDialect)[2..])))
            {
                dialect = _options.PreferredDialect;
            }
            SendRaw(BananaNegotiation.ChoiceFor(dialect));
        }
        Dialect = dialect;
        _parser.Dialect = dialect;
        _broker = new Broker(this, _options, null, _logger);
        // The root is made once the broker exists, so it can watch the connection (a portal root does).
        _broker.SetRoot(_rootFactory?.Invoke(this));
        _broker.SendVersion();
        _ready.TrySetResult();
    }

    // ---------------------------------------------------------------- writing

    private void SendRaw(ReadOnlySpan<byte> bytes)
    {
        bool flush;
        lock (_writeLock)
        {
            ThrowIfClosedForWrites();
            bytes.CopyTo(_current.GetSpan(bytes.Length));
            _current.Advance(bytes.Length);
            flush = RequestFlushLocked();
        }
        if (flush)
        {
            _ = FlushAsync();
        }
    }

    void IBrokerTransport.Send<TState>(TState state, MessageWriter<TState> write)
    {
        bool flush;
        lock (_writeLock)
        {
            ThrowIfClosedForWrites();
            int mark = _current.WrittenCount;
            var writer = new BananaWriter(_current, Dialect, _options.BananaLimits);
            try
            {
                write(ref writer, state);
                writer.Flush();
            }
            catch
            {
                _current.Truncate(mark);
                throw;
            }
            long size = _current.WrittenCount - mark;
            if (size > _options.BananaLimits.MaxMessageSize)
            {
                // The receiver would refuse it (and close the connection): the sender gets the error instead.
                _current.Truncate(mark);
                throw new BananaException($"The message is too large to send ({size} bytes); the limit is {_options.BananaLimits.MaxMessageSize} bytes (BananaLimits.MaxMessageSize).");
            }
            if (mark + _inFlight > 0 && mark + _inFlight + size > _options.MaxOutgoingBufferSize)
            {
                // One message of any allowed size may always wait; more than the limit only when the peer is not reading.
                _current.Truncate(mark);
                var error = new PbProtocolException($"The peer is not reading: more than {_options.MaxOutgoingBufferSize} bytes wait to be sent (BrokerOptions.MaxOutgoingBufferSize).") { IsPolicyViolation = true };
                ((IBrokerTransport)this).Abort(error);
                throw new ConnectionLostException(error.Message, error);
            }
            flush = RequestFlushLocked();
        }
        if (flush)
        {
            // Started on this thread: the socket write usually completes at once, without a thread hop.
            _ = FlushAsync();
        }
    }

    private void ThrowIfClosedForWrites()
    {
        if (_writesClosed)
        {
            throw new ConnectionLostException("The connection is closed.", _closeReason);
        }
    }

    /// <summary>
    /// Under the write lock: true when the caller must start a flush (after releasing the lock). One flush runs at
    /// a time and drains whatever other writers queue meanwhile; on this connection's read loop, inside a batch, the
    /// flush waits for the end of the batch.
    /// </summary>
    private bool RequestFlushLocked()
    {
        if (_flushing || _flushDeferred)
        {
            return false;
        }
        if (ReferenceEquals(t_deferring, this))
        {
            _flushDeferred = true;
            return false;
        }
        if (ReferenceEquals(t_holding, this))
        {
            // Held while a batch's continuations run. A continuation may block on the answer to the call it just made
            // (sync over async): a flush queued on another thread sends what is held anyway, so nothing waits for the
            // end of the batch to make progress.
            _flushDeferred = true;
            if (!_releaseQueued)
            {
                _releaseQueued = true;
                ThreadPool.UnsafeQueueUserWorkItem(static c => c.EndDeferredFlush(), this, preferLocal: false);
            }
            return false;
        }
        _flushing = true;
        return true;
    }

    void IBrokerTransport.HoldFlushes() => t_holding = this;

    void IBrokerTransport.ReleaseFlushes()
    {
        t_holding = null;
        EndDeferredFlush();
    }

    /// <summary>Ends the read loop's batch: what it held back leaves now.</summary>
    private void EndDeferredFlush()
    {
        bool flush;
        lock (_writeLock)
        {
            _releaseQueued = false;
            if (!_flushDeferred || _writesClosed)
            {
                return; // nothing held, or closing: the shutdown sends what is left itself
            }
            _flushDeferred = false;
            flush = RequestFlushLocked();
        }
        if (flush)
        {
            _ = FlushAsync();
        }
    }

    private async Task FlushAsync()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                OutgoingBuffer batch;
                lock (_writeLock)
                {
                    if (_current.WrittenCount == 0)
                    {
                        EndFlushLocked();
                        return;
                    }
                    batch = _current;
                    _current = _spare;
                    _spare = batch;
                    _inFlight = batch.WrittenCount;
                }
                // Everything queued while the previous write was in flight goes out in one write.
                FlushResult result = await _pipe.Output.WriteAsync(batch.WrittenMemory, _closing.Token).ConfigureAwait(false);
                if (_metrics.BytesSent.Enabled)
                {
                    _metrics.BytesSent.Add(batch.WrittenCount);
                }
                lock (_writeLock)
                {
                    batch.Reset();
                    _inFlight = 0;
                    SignalDrainedLocked();
                }
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            failure = e;
        }
        lock (_writeLock)
        {
            _inFlight = 0;
            EndFlushLocked();
        }
        // Not awaited: shutdown waits for this flush to end.
        _ = ShutdownAsync(failure);
    }

    private void EndFlushLocked()
    {
        _flushing = false;
        SignalDrainedLocked();
        if (_flushIdle is { } idle)
        {
            _flushIdle = null;
            idle.TrySetResult();
        }
    }

    private void SignalDrainedLocked()
    {
        if (_drained is { } drained && _current.WrittenCount + _inFlight <= _options.MaxOutgoingBufferSize / 2)
        {
            _drained = null;
            drained.TrySetResult();
        }
    }

    /// <summary>Null when the backlog is small; otherwise a task that completes when it has fallen under half the limit.</summary>
    private Task? WhenBacklogDrained()
    {
        lock (_writeLock)
        {
            if (_current.WrittenCount + _inFlight <= _options.MaxOutgoingBufferSize / 2 || _writesClosed)
            {
                return null;
            }
            return (_drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>Null when no flush runs; otherwise a task that completes when it ends.</summary>
    private Task? WhenFlushIdle()
    {
        lock (_writeLock)
        {
            return _flushing ? (_flushIdle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task : null;
        }
    }

    // ---------------------------------------------------------------- closing

    void IBrokerTransport.Abort(Exception reason)
    {
        _closeReason ??= reason;
        _closing.Cancel();
    }

    private async Task ShutdownAsync(Exception? reason)
    {
        if (Interlocked.Exchange(ref _shutdown, 1) != 0)
        {
            return;
        }
        _closeReason ??= reason;
        bool flush = false;
        lock (_writeLock)
        {
            _writesClosed = true;
            if (!_closing.IsCancellationRequested)
            {
                _flushDeferred = false;
                flush = RequestFlushLocked();
            }
        }
        if (flush)
        {
            _ = FlushAsync();
        }
        // What is queued (an answer, an error) gets a bounded moment to reach the peer; then everything stops.
        if (!_closing.IsCancellationRequested && WhenFlushIdle() is { } sending)
        {
            try
            {
                await sending.WaitAsync(CloseTimeout, _closing.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
            }
        }
        await _closing.CancelAsync().ConfigureAwait(false);
        // The write in flight, if any, ends at the cancellation; the buffers and the pipe are released only after it.
        if (WhenFlushIdle() is { } stopping)
        {
            await stopping.ConfigureAwait(false);
        }
        lock (_writeLock)
        {
            _drained?.TrySetResult();
            _drained = null;
        }
        _ready.TrySetException(new ConnectionLostException("The connection closed before negotiation finished.", _closeReason));
        _broker?.ConnectionLost(_closeReason);
        if (_pipe is IClosingPipe closing)
        {
            closing.SetCloseReason(_closeReason);
        }
        await _pipe.Input.CompleteAsync().ConfigureAwait(false);
        await _pipe.Output.CompleteAsync().ConfigureAwait(false);
        if (_owner is not null)
        {
            await _owner.DisposeAsync().ConfigureAwait(false);
        }
        lock (_writeLock)
        {
            _current.Dispose();
            _spare.Dispose();
        }
        LogClosed(_logger, _closeReason?.Message ?? "closed");
        _metrics.Connections.Add(-1);
        _completion.TrySetResult();
    }

    /// <summary>How long a closing connection waits for its last messages to be written.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Closes gracefully for <paramref name="reason"/>: what is queued (an error answer) gets a bounded moment to reach
    /// the peer, then the connection closes.
    /// </summary>
    /// <summary>Closes the connection because of <paramref name="reason"/>: what is queued is sent first (a <see cref="PbProtocolException"/> with <c>IsPolicyViolation</c> closes a WebSocket with 1008).</summary>
    public Task CloseAsync(Exception reason) => ShutdownAsync(reason);

    Task IBrokerTransport.CloseAsync(Exception reason) => ShutdownAsync(reason);

    /// <summary>Closes the connection: pending calls fail with <see cref="ConnectionLostException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync().ConfigureAwait(false);
        await ShutdownAsync(null).ConfigureAwait(false);
        await _completion.Task.ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Closing the connection: the peer broke the protocol: {Reason}")]
    private static partial void LogProtocolError(ILogger logger, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Closing the connection after an unexpected error.")]
    private static partial void LogUnexpectedError(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "Connection closed: {Reason}")]
    private static partial void LogClosed(ILogger logger, string reason);
}
