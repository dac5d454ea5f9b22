using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Pb.Banana;

namespace Pb.AspNetCore.Tests.Hostile;

public enum Transport { Tcp, WebSocket }

/// <summary>
/// A hand-driven PB peer over a real TCP socket or a real WebSocket (<c>pb.banana</c>): raw bytes out, banana trees
/// in, and how the server closed it.
/// </summary>
internal sealed class HostilePeer : IAsyncDisposable
{
    private readonly Socket? _socket;
    private readonly ClientWebSocket? _webSocket;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly List<byte> _pending = [];
    private BananaDialect _dialect = BananaDialect.None;

    private HostilePeer(Socket? socket, ClientWebSocket? webSocket)
    {
        _socket = socket;
        _webSocket = webSocket;
    }

    /// <summary>True once the server closed (or reset) the connection.</summary>
    public bool Closed { get; private set; }

    /// <summary>The WebSocket close status the server sent, if it sent one.</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    /// <summary>WebSocket messages received that carried no bytes (the server should never send one).</summary>
    public int EmptyMessages { get; private set; }

    /// <summary>Items received and not yet taken.</summary>
    public List<object?> Received { get; } = [];

    public static async Task<HostilePeer> ConnectAsync(Transport transport, int tcpPort, Uri webSocket, CancellationToken cancellationToken, int? receiveBuffer = null)
    {
        if (transport == Transport.Tcp)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            if (receiveBuffer is { } size)
            {
                socket.ReceiveBufferSize = size;
            }
            await socket.ConnectAsync(IPAddress.Loopback, tcpPort, cancellationToken);
            return new HostilePeer(socket, null);
        }
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("pb.banana");
        ws.Options.KeepAliveInterval = Timeout.InfiniteTimeSpan;
        await ws.ConnectAsync(webSocket, cancellationToken);
        return new HostilePeer(null, ws);
    }

    /// <summary>PB's opening: the server's dialect offer, our choice of pb, the version messages.</summary>
    public async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        object? offer = await NextAsync(cancellationToken);
        Assert.True(BananaNegotiation.TrySelect(offer, out _), "the server's first item is its dialect offer");
        await SendAsync(BananaNegotiation.ChoosePb.ToArray(), cancellationToken);
        _dialect = BananaDialect.Pb;
        var version = (List<object?>)(await NextAsync(cancellationToken))!;
        Assert.Equal("version"u8.ToArray(), (byte[])version[0]!);
        await SendTreeAsync(new List<object?> { "version"u8.ToArray(), 6L }, cancellationToken);
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        if (_socket is not null)
        {
            await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken);
        }
        else
        {
            await _webSocket!.SendAsync(bytes, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
        }
    }

    public Task SendTreeAsync(object? tree, CancellationToken cancellationToken) => SendAsync(Encode(tree), cancellationToken);

    /// <summary>A banana tree in the pb dialect (byte strings for words).</summary>
    public static byte[] Encode(object? tree)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new BananaWriter(output, BananaDialect.Pb, new BananaLimits { MaxMessageSize = long.MaxValue });
        writer.WriteTree(tree);
        writer.Flush();
        return output.WrittenMemory.ToArray();
    }

    /// <summary>A PB call message: <c>["message", id, object, method, answer, ["tuple", args...], ["dictionary"]]</c>.</summary>
    public static List<object?> Call(long requestId, object objectId, string method, params object?[] args)
    {
        var tuple = new List<object?> { "tuple"u8.ToArray() };
        tuple.AddRange(args);
        return
        [
            "message"u8.ToArray(), requestId, objectId is string s ? System.Text.Encoding.ASCII.GetBytes(s) : objectId,
            System.Text.Encoding.ASCII.GetBytes(method), 1L, tuple, new List<object?> { "dictionary"u8.ToArray() },
        ];
    }

    /// <summary>The next item from the server; fails when the connection closes first.</summary>
    public async Task<object?> NextAsync(CancellationToken cancellationToken)
    {
        while (Received.Count == 0)
        {
            Assert.True(await FillAsync(cancellationToken), "the server closed the connection");
        }
        object? item = Received[0];
        Received.RemoveAt(0);
        return item;
    }

    /// <summary>The answer or error for <paramref name="requestId"/>: (true, value) or (false, the failure tree).</summary>
    public async Task<(bool Ok, object? Value)> AnswerAsync(long requestId, CancellationToken cancellationToken)
    {
        while (true)
        {
            int index = Received.FindIndex(i => i is List<object?> { Count: 3 } l && Equals(l[1], requestId) && l[0] is byte[] c && (Is(c, "answer") || Is(c, "error")));
            if (index >= 0)
            {
                var message = (List<object?>)Received[index]!;
                Received.RemoveAt(index);
                return (Is((byte[])message[0]!, "answer"), message[2]);
            }
            Assert.True(await FillAsync(cancellationToken), $"the server closed the connection before answering request {requestId}");
        }
    }

    /// <summary>Reads until the server closes; false if it is still open after <paramref name="wait"/>.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        try
        {
            while (await FillAsync(timeout.Token))
            {
                Received.Clear();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        return Closed;
    }

    public static bool Is(byte[] word, string text) => word.AsSpan().SequenceEqual(System.Text.Encoding.ASCII.GetBytes(text));

    /// <summary>The text of an error answer's failure (a CopyableFailure's <c>value</c> and <c>type</c>, or the string).</summary>
    public static string Describe(object? failure) => failure switch
    {
        byte[] bytes => System.Text.Encoding.UTF8.GetString(bytes),
        List<object?> list => string.Join(" ", list.Select(Describe)),
        null => "",
        _ => failure.ToString() ?? "",
    };

    private Task<int>? _receive;

    /// <summary>
    /// Waits for the next bytes. One receive is outstanding at a time and is never cancelled (cancelling a
    /// WebSocket receive aborts the socket): a wait that times out leaves it running for the next call.
    /// </summary>
    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (Closed)
        {
            return false;
        }
        _receive ??= ReceiveOnceAsync();
        int n = await _receive.WaitAsync(cancellationToken);
        _receive = null;
        if (n == 0)
        {
            Closed = true;
            return false;
        }
        _pending.AddRange(_buffer.AsSpan(0, n));
        var parser = new BananaParser(_dialect, new BananaLimits { MaxMessageSize = long.MaxValue, MaxItemLength = int.MaxValue });
        var sequence = new ReadOnlySequence<byte>(_pending.ToArray());
        long before = sequence.Length;
        while (parser.TryParse(ref sequence, out object? item))
        {
            Received.Add(item);
        }
        _pending.RemoveRange(0, (int)(before - sequence.Length));
        return true;
    }

    private async Task<int> ReceiveOnceAsync()
    {
        try
        {
            if (_socket is not null)
            {
                return await _socket.ReceiveAsync(_buffer, SocketFlags.None);
            }
            while (true)
            {
                WebSocketReceiveResult result = await _webSocket!.ReceiveAsync(_buffer, CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = result.CloseStatus;
                    return 0;
                }
                if (result.Count > 0)
                {
                    return result.Count;
                }
                if (result.EndOfMessage)
                {
                    EmptyMessages++; // a frame that carries nothing: wasted, and not a close
                }
            }
        }
        catch (Exception e) when (e is SocketException or WebSocketException or IOException or ObjectDisposedException)
        {
            return 0;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket?.Dispose();
        if (_webSocket is not null)
        {
            _webSocket.Abort();
            _webSocket.Dispose();
        }
        await Task.CompletedTask;
    }
}
