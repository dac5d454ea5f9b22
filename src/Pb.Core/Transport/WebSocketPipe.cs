using System.Buffers;
using System.IO.Pipelines;
using System.Net.WebSockets;

namespace Pb;

/// <summary>
/// A WebSocket as a duplex pipe carrying the banana byte stream: binary messages in either direction, whose
/// boundaries need not match banana items (a message may hold several items or part of one).
/// </summary>
internal sealed class WebSocketPipe : IDuplexPipe, IAsyncDisposable
{
    /// <summary>The WebSocket sub-protocol for banana (the same bytes as TCP).</summary>
    public const string BananaSubProtocol = "pb.banana";

    private readonly WebSocket _socket;
    private readonly Pipe _incoming = new(new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
    private readonly Pipe _outgoing = new(new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _receiving;
    private readonly Task _sending;

    public WebSocketPipe(WebSocket socket)
    {
        _socket = socket;
        _receiving = ReceiveAsync();
        _sending = SendAsync();
    }

    public PipeReader Input => _incoming.Reader;

    public PipeWriter Output => _outgoing.Writer;

    /// <summary>Completes when both directions have stopped.</summary>
    public Task Completion => Task.WhenAll(_receiving, _sending);

    private async Task ReceiveAsync()
    {
        PipeWriter writer = _incoming.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                // Wait for data without holding a buffer, as idle connections are the common case.
                ValueWebSocketReceiveResult probe = await _socket.ReceiveAsync(Memory<byte>.Empty, _stopping.Token).ConfigureAwait(false);
                if (probe.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                Memory<byte> memory = writer.GetMemory(16 * 1024);
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
        catch (Exception e) when (e is WebSocketException or PbProtocolException or IOException)
        {
            error = e;
        }
        await writer.CompleteAsync(error).ConfigureAwait(false);
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
                    // One WebSocket message per batch the connection flushed.
                    SequencePosition position = buffer.Start;
                    while (buffer.TryGet(ref position, out ReadOnlyMemory<byte> segment))
                    {
                        bool last = position.GetObject() is null;
                        await _socket.SendAsync(segment, WebSocketMessageType.Binary, last, _stopping.Token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }
                if (read.IsCompleted)
                {
                    break;
                }
            }
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "closed", timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The peer went away; the receive side reports the end of the connection.
        }
        await reader.CompleteAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _outgoing.Writer.CompleteAsync().ConfigureAwait(false);
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
