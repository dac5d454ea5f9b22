using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Pb;

/// <summary>A socket as a duplex pipe.</summary>
internal sealed class SocketPipe : IDuplexPipe, IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    public SocketPipe(Socket socket)
    {
        _socket = socket;
        _socket.NoDelay = true;
        EnableKeepAlive(socket);
        _stream = new NetworkStream(socket, ownsSocket: true);
        Input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));
        Output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public PipeReader Input { get; }

    public PipeWriter Output { get; }

    /// <summary>
    /// PB has no keep-alive of its own: TCP keep-alive (first probe after 30 s idle, then every 10 s, 3 tries) notices
    /// a peer that vanished without closing, so its avatars are logged out and its tables freed.
    /// </summary>
    internal static void EnableKeepAlive(Socket socket)
    {
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 30);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 10);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
        }
        catch (Exception e) when (e is SocketException or PlatformNotSupportedException)
        {
            // Best effort: not every platform has every option.
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// A PB server on a TCP port, without ASP.NET: every connection gets its own broker and the root object the
/// factory makes for it (one object for everybody, or one per connection).
/// </summary>
public sealed class PbServer : IAsyncDisposable
{
    private readonly Func<PbConnection, object?> _rootFactory;
    private readonly BrokerOptions _options;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly HashSet<PbConnection> _connections = [];
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task? _acceptLoop;

    /// <summary>Creates a server whose root object is <paramref name="root"/> for every connection.</summary>
    public PbServer(Referenceable root, BrokerOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(_ => root, options, loggerFactory)
    {
    }

    /// <summary>Creates a server that makes each connection's root object with <paramref name="rootFactory"/>.</summary>
    public PbServer(Func<PbConnection, Referenceable> rootFactory, BrokerOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(rootFactory);
        _rootFactory = rootFactory;
        _options = options ?? new BrokerOptions();
        _loggerFactory = loggerFactory;
    }

    /// <summary>The port listened on (after <see cref="Start"/>).</summary>
    public int Port => ((IPEndPoint?)_listener?.LocalEndPoint)?.Port ?? throw new InvalidOperationException("The server is not started.");

    /// <summary>The open connections.</summary>
    public IReadOnlyCollection<PbConnection> Connections
    {
        get
        {
            lock (_connections)
            {
                return [.. _connections];
            }
        }
    }

    /// <summary>Starts listening on <paramref name="endPoint"/> (port 0 picks a free port).</summary>
    public void Start(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(endPoint);
        listener.Listen(512);
        _listener = listener;
        _acceptLoop = AcceptLoopAsync(listener);
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        ILogger? logger = _loggerFactory?.CreateLogger<PbConnection>();
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }
                continue;
            }
            var pipe = new SocketPipe(socket);
            var connection = new PbConnection(pipe, isServer: true, _options, _rootFactory, logger, pipe);
            lock (_connections)
            {
                _connections.Add(connection);
            }
            _ = connection.Completion.ContinueWith(static (_, s) =>
            {
                var (set, c) = ((HashSet<PbConnection>, PbConnection))s!;
                lock (set)
                {
                    set.Remove(c);
                }
            }, (_connections, connection), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            connection.Start();
        }
    }

    /// <summary>Stops listening and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        foreach (PbConnection connection in Connections)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        _stopping.Dispose();
    }
}

/// <summary>A PB client connection over TCP (Twisted's <c>PBClientFactory</c>).</summary>
public sealed class PbClient : IAsyncDisposable
{
    private PbClient(PbConnection connection) => Connection = connection;

    /// <summary>The connection.</summary>
    public PbConnection Connection { get; }

    /// <summary>Connects to a PB server and negotiates the dialect.</summary>
    public static async Task<PbClient> ConnectAsync(string host, int port, BrokerOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var pipe = new SocketPipe(socket);
        return await StartAsync(pipe, pipe, options, logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the client side of PB over <paramref name="pipe"/> and waits for the dialect negotiation.</summary>
    private static async Task<PbClient> StartAsync(System.IO.Pipelines.IDuplexPipe pipe, IAsyncDisposable owner, BrokerOptions? options, ILogger? logger, CancellationToken cancellationToken)
    {
        // A client publishes no root: its objects reach the server as call arguments (a login's mind, callbacks).
        var connection = new PbConnection(pipe, isServer: false, options ?? new BrokerOptions(), null, logger, owner);
        connection.Start();
        var client = new PbClient(connection);
        try
        {
            await connection.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return client;
    }

    /// <summary>
    /// Connects over a WebSocket (PB over <c>ws://</c> or <c>wss://</c>, sub-protocol <c>pb.banana</c>), as a browser
    /// does: the same banana bytes as TCP, in binary messages.
    /// </summary>
    public static async Task<PbClient> ConnectWebSocketAsync(Uri uri, BrokerOptions? options = null, Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.AddSubProtocol(WebSocketPipe.BananaSubProtocol);
        configure?.Invoke(socket.Options);
        try
        {
            await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return await ConnectAsync(socket, options, logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a PB client over a WebSocket that is already open.</summary>
    public static async Task<PbClient> ConnectAsync(System.Net.WebSockets.WebSocket webSocket, BrokerOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(webSocket);
        var pipe = new WebSocketPipe(webSocket);
        return await StartAsync(pipe, pipe, options, logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The server's root object (Twisted's <c>getRootObject</c>).</summary>
    public async Task<RemoteReference> GetRootObjectAsync(CancellationToken cancellationToken = default)
    {
        await Connection.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        return Connection.RootObject;
    }

    /// <summary>Closes the connection.</summary>
    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
