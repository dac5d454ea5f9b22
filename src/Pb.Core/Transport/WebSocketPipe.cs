using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;
using Pb.Banana;

namespace Pb;

/// <summary>
/// A WebSocket as a duplex pipe carrying the banana byte stream: binary messages in either direction, whose
/// boundaries need not match banana items (a message may hold several items or part of one). With a
/// <see cref="IBananaTranscoder"/> (a sub-protocol such as <c>pb.msgpack</c>) each message instead holds whole values of
/// that encoding: one message per batch the connection flushed, translated to and from banana at this boundary.
/// </summary>
public sealed class WebSocketPipe : IDuplexPipe, IClosingPipe, IAsyncDisposable
{
    /// <summary>The WebSocket sub-protocol for banana (the same bytes as TCP).</summary>
    public const string BananaSubProtocol = "pb.banana";

    private readonly WebSocket _socket;
    private readonly Pipe _incoming = new(new PipeOptions(SegmentPool.Instance, pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
    private readonly Pipe _outgoing = new(new PipeOptions(SegmentPool.Instance, pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiving;
    private readonly Task _sending;
    private readonly IBananaTranscoder? _transcoder;
    private readonly BananaLimits _limits;
    private OutgoingBuffer? _message;   // a sub-protocol message being received (whole messages are translated)
    private OutgoingBuffer? _gathered;  // an outgoing batch made contiguous
    private OutgoingBuffer? _encoded;   // an outgoing batch translated to the sub-protocol
    private WebSocketCloseStatus _closeStatus = WebSocketCloseStatus.NormalClosure;
    private string _closeDescription = "closed";

    /// <summary>Carries PB over <paramref name="socket"/> (an open WebSocket), translated by <paramref name="transcoder"/> when it is not <c>pb.banana</c>.</summary>
    public WebSocketPipe(WebSocket socket, IBananaTranscoder? transcoder = null, BananaLimits? limits = null)
    {
        _socket = socket;
        _transcoder = transcoder;
        _limits = limits ?? BananaLimits.Default;
        _receiving = ReceiveAsync();
        _sending = SendAsync();
    }

    /// <inheritdoc/>
    public PipeReader Input => _incoming.Reader;

    /// <inheritdoc/>
    public PipeWriter Output => _outgoing.Writer;

    /// <summary>Completes when both directions have stopped.</summary>
    public Task Completion => Task.WhenAll(_receiving, _sending);

    private async Task ReceiveAsync()
    {
        PipeWriter writer = _incoming.Writer;
        Exception? error = null;
        bool inMessage = false;
        try
        {
            while (true)
            {
                // Between messages, wait for data without holding a buffer, as idle connections are the common case;
                // inside a message, read on at once.
                if (!inMessage)
                {
                    ValueWebSocketReceiveResult probe = await _socket.ReceiveAsync(Memory<byte>.Empty, _stopping.Token).ConfigureAwait(false);
                    if (probe.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                }
                if (_transcoder is not null)
                {
                    if (!await ReceiveTranscodedAsync(writer).ConfigureAwait(false))
                    {
                        break;
                    }
                    continue;
                }
                // A message's first read asks for a small segment (most PB messages are small, and a thousand connections
                // woken by one broadcast would otherwise each rent 64 KiB at once, past what the pool keeps: allocations
                // and GC); the rest of a long message is read in large segments.
                Memory<byte> memory = writer.GetMemory(inMessage ? 64 * 1024 : 4 * 1024);
                ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(memory, _stopping.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                if (result.MessageType != WebSocketMessageType.Binary)
                {
                    throw new PbProtocolException("PB over WebSocket carries binary messages only.");
                }
                writer.Advance(result.Count);
                inMessage = !result.EndOfMessage;
                FlushResult flushed = await writer.FlushAsync(_stopping.Token).ConfigureAwait(false);
                if (flushed.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is WebSocketException or PbProtocolException or BananaException or IOException)
        {
            error = e;
        }
        _message?.Dispose();
        await writer.CompleteAsync(error).ConfigureAwait(false);
    }

    /// <summary>Reads one whole message of the sub-protocol and hands its values on as banana. False at the peer's close.</summary>
    private async ValueTask<bool> ReceiveTranscodedAsync(PipeWriter writer)
    {
        OutgoingBuffer message = _message ??= new OutgoingBuffer();
        long maxMessageSize = _limits.MaxMessageSize;
        while (true)
        {
            ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(message.GetMemory(16 * 1024), _stopping.Token).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return false;
            }
            if (result.MessageType != WebSocketMessageType.Binary)
            {
                throw new PbProtocolException("PB over WebSocket carries binary messages only.");
            }
            message.Advance(result.Count);
            if (message.WrittenCount > maxMessageSize)
            {
                throw new BananaException($"Security precaution: a {_transcoder!.SubProtocol} message larger than {maxMessageSize} bytes (the limit is set by BananaLimits.MaxMessageSize).");
            }
            if (result.EndOfMessage)
            {
                break;
            }
        }
        try
        {
            _transcoder!.Decode(new ReadOnlySequence<byte>(message.WrittenMemory), writer, _limits);
        }
        finally
        {
            message.Reset();
        }
        FlushResult flushed = await writer.FlushAsync(_stopping.Token).ConfigureAwait(false);
        return !flushed.IsCompleted;
    }

    private async Task SendAsync()
    {
        PipeReader reader = _outgoing.Reader;
        try
        {
            while (true)
            {
                ReadResult read = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = read.Buffer;
                try
                {
                    if (_transcoder is not null)
                    {
                        await SendTranscodedAsync(buffer).ConfigureAwait(false);
                    }
                    else if (!buffer.IsEmpty) // (the read that reports completion is empty: no empty frame before the close)
                    {
                        // One WebSocket frame per batch the connection flushed.
                        await _socket.SendAsync(Contiguous(buffer), WebSocketMessageType.Binary, true, _stopping.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _gathered?.Reset();
                    reader.AdvanceTo(buffer.End);
                }
                if (read.IsCompleted)
                {
                    break;
                }
            }
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(CloseTimeout);
                await _socket.CloseOutputAsync(_closeStatus, _closeDescription, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The peer went away; the receive side reports the end of the connection.
        }
        catch (BananaException)
        {
            // Our own bytes failed to translate (a bug, not the peer's doing): end the connection rather than stall it.
            _socket.Abort();
        }
        _encoded?.Dispose();
        _gathered?.Dispose();
        await reader.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Sends what the connection flushed as one message of the sub-protocol. The connection flushes whole banana items
    /// only (it writes each message completely before it flushes), so the batch never ends inside an item.
    /// </summary>
    private async ValueTask SendTranscodedAsync(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return;
        }
        OutgoingBuffer encoded = _encoded ??= new OutgoingBuffer();
        try
        {
            // The banana reader is fastest over one span.
            _transcoder!.Encode(new ReadOnlySequence<byte>(Contiguous(buffer)), encoded);
            await _socket.SendAsync(encoded.WrittenMemory, WebSocketMessageType.Binary, true, _stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            encoded.Reset();
        }
    }

    /// <summary>
    /// The batch as one piece of memory: the pipe's small segments are gathered into <see cref="_gathered"/> (reset by
    /// the send loop once the batch is sent). A copy costs less than a WebSocket frame, a write and a wake-up of the peer
    /// per segment.
    /// </summary>
    private ReadOnlyMemory<byte> Contiguous(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            return buffer.First;
        }
        OutgoingBuffer gathered = _gathered ??= new OutgoingBuffer();
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            segment.Span.CopyTo(gathered.GetSpan(segment.Length));
            gathered.Advance(segment.Length);
        }
        return gathered.WrittenMemory;
    }

    /// <summary>
    /// The close status the peer sees: 1000 for a normal close, 1002 when the peer broke the protocol or a limit,
    /// 1008 when it broke a policy (did not read, too slow), 1011 after an error of ours. The text is fixed per status:
    /// nothing of the message or the error travels.
    /// </summary>
    void IClosingPipe.SetCloseReason(Exception? reason)
    {
        (_closeStatus, _closeDescription) = reason switch
        {
            null => (WebSocketCloseStatus.NormalClosure, "closed"),
            BananaException => (WebSocketCloseStatus.ProtocolError, "PB protocol error or limit exceeded"),
            PbProtocolException { IsPolicyViolation: true } => (WebSocketCloseStatus.PolicyViolation, "a PB connection limit was exceeded"),
            PbProtocolException => (WebSocketCloseStatus.ProtocolError, "PB protocol error"),
            WebSocketException or IOException or ConnectionLostException => (WebSocketCloseStatus.NormalClosure, "closed"),
            _ => (WebSocketCloseStatus.InternalServerError, "internal error"),
        };
    }

    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How much a closing peer may still send before its close frame; past it, the socket is aborted.</summary>
    private const int MaxBytesAfterClose = 64 * 1024;

    /// <summary>
    /// Reads (and drops) what the peer still sends until its close frame, for at most <paramref name="wait"/> and
    /// <see cref="MaxBytesAfterClose"/> bytes (a peer that keeps pumping data is not read any further).
    /// </summary>
    private async Task AwaitPeerCloseAsync(TimeSpan wait)
    {
        if (wait <= TimeSpan.Zero)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(wait);
        byte[] scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            long dropped = 0;
            while (dropped <= MaxBytesAfterClose)
            {
                ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(scratch.AsMemory(), timeout.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }
                dropped += result.Count;
            }
        }
        catch (IOException)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Closes the WebSocket (with the status of the close reason) after what is queued was sent.</summary>
    public async ValueTask DisposeAsync()
    {
        await _outgoing.Writer.CompleteAsync().ConfigureAwait(false);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            // The send loop writes what is left and the close frame (with its status); the peer answers the close.
            await Completion.WaitAsync(CloseTimeout).ConfigureAwait(false);
            if (_socket.State == WebSocketState.CloseSent)
            {
                // Our close is out but nobody receives any more (the receive loop ended with the connection's input):
                // wait, within the same bound, for the peer's close. Aborting at once could reset the socket before the
                // peer read our close frame, and it would see a connection dropped without a status.
                await AwaitPeerCloseAsync(CloseTimeout - System.Diagnostics.Stopwatch.GetElapsedTime(started)).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or WebSocketException)
        {
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await Completion.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
        _socket.Abort();
        _socket.Dispose();
        _stopping.Dispose();
    }
}
