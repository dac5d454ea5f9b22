using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pb.Banana;

namespace Pb;

/// <summary>
/// A PB client connection over TCP or a WebSocket (Twisted's <c>PBClientFactory</c>); with
/// <see cref="PbClientOptions.Reconnect"/>, it opens a new connection when one is lost and logs in again, as
/// SignalR's <c>WithAutomaticReconnect</c> and the TypeScript client's <c>reconnect</c> option do.
/// </summary>
public sealed partial class PbClient : IAsyncDisposable
{
    private readonly Func<CancellationToken, Task<PbConnection>>? _open;
    private readonly IRetryPolicy? _retryPolicy;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private PbConnection _connection;
    private Func<RemoteReference, CancellationToken, Task<RemoteReference>>? _relogin;
    private int _state;
    private int _closedRaised;

    private PbClient(PbConnection connection, Func<CancellationToken, Task<PbConnection>>? open, IRetryPolicy? retryPolicy, ILogger? logger)
    {
        _connection = connection;
        _open = open;
        _retryPolicy = retryPolicy;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The connection now (a reconnect replaces it).</summary>
    public PbConnection Connection => Volatile.Read(ref _connection);

    /// <summary>Where the client is: connected, reconnecting, or closed for good.</summary>
    public PbClientState State => (PbClientState)Volatile.Read(ref _state);

    /// <summary>
    /// Raised when the connection was lost and reconnecting begins (only with <see cref="PbClientOptions.Reconnect"/>),
    /// with the reason. References from the lost connection answer <see cref="DeadReferenceException"/> from now on.
    /// </summary>
    public event Func<Exception, Task>? Reconnecting;

    /// <summary>
    /// Raised once a reconnect succeeded, with the avatar of the repeated login (the root object when there was no
    /// login): the place to fetch again what the app observed (its caches) and to call again what had failed.
    /// </summary>
    public event Func<RemoteReference, Task>? Reconnected;

    /// <summary>Raised once when the client closes for good: null after <see cref="DisposeAsync"/>, else why.</summary>
    public event Func<Exception?, Task>? Closed;

    /// <summary>Connects to a PB server and negotiates the dialect.</summary>
    public static Task<PbClient> ConnectAsync(string host, int port, BrokerOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(host, port, new PbClientOptions { Broker = options ?? new BrokerOptions(), Logger = logger }, cancellationToken);

    /// <summary>Connects to a PB server over TCP with <paramref name="options"/> (automatic reconnect among them).</summary>
    public static Task<PbClient> ConnectAsync(string host, int port, PbClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        BrokerOptions broker = options.Broker;
        ILogger? logger = options.Logger;
        return StartAsync(ct => OpenTcpAsync(host, port, broker, logger, ct), options, cancellationToken);
    }

    /// <summary>
    /// Connects to a PB server over TLS (Twisted's <c>connectSSL</c>; Kestrel's <c>UseHttps()</c> before
    /// <c>UsePerspectiveBroker()</c>). Use it whenever the network is not yours: PB's password login sends an MD5
    /// challenge response and <c>loginToken</c> a bearer token, both readable and replayable on a plain connection.
    /// <paramref name="tls"/> names the server (<see cref="System.Net.Security.SslClientAuthenticationOptions.TargetHost"/>
    /// defaults to <paramref name="host"/>) and may pin or validate its certificate.
    /// </summary>
    public static Task<PbClient> ConnectAsync(string host, int port, System.Net.Security.SslClientAuthenticationOptions tls, BrokerOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(host, port, tls, new PbClientOptions { Broker = options ?? new BrokerOptions(), Logger = logger }, cancellationToken);

    /// <summary>Connects to a PB server over TLS with <paramref name="options"/> (automatic reconnect among them).</summary>
    public static Task<PbClient> ConnectAsync(string host, int port, System.Net.Security.SslClientAuthenticationOptions tls, PbClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(options);
        BrokerOptions broker = options.Broker;
        ILogger? logger = options.Logger;
        return StartAsync(ct => OpenTlsAsync(host, port, tls, broker, logger, ct), options, cancellationToken);
    }

    /// <summary>
    /// Connects over a WebSocket (PB over <c>ws://</c> or <c>wss://</c>, sub-protocol <c>pb.banana</c>), as a browser
    /// does: the same banana bytes as TCP, in binary messages.
    /// </summary>
    public static Task<PbClient> ConnectWebSocketAsync(Uri uri, BrokerOptions? options = null, Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        ConnectWebSocketAsync(uri, null, options, configure, logger, cancellationToken);

    /// <summary>
    /// Connects over a WebSocket with another sub-protocol than <c>pb.banana</c>: <paramref name="transcoder"/> (for
    /// example Pb.AspNetCore's <c>PbMessagePackTranscoder</c>) names it and translates each message. Null means <c>pb.banana</c>.
    /// </summary>
    public static Task<PbClient> ConnectWebSocketAsync(Uri uri, IBananaTranscoder? transcoder, BrokerOptions? options = null, Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        ConnectWebSocketAsync(uri, new PbClientOptions { Broker = options ?? new BrokerOptions(), Logger = logger, ConfigureWebSocket = configure, Transcoder = transcoder }, cancellationToken);

    /// <summary>Connects over a WebSocket with <paramref name="options"/> (access tokens and automatic reconnect among them).</summary>
    public static Task<PbClient> ConnectWebSocketAsync(Uri uri, PbClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(options);
        BrokerOptions broker = options.Broker;
        ILogger? logger = options.Logger;
        IBananaTranscoder? transcoder = options.Transcoder;
        Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = options.ConfigureWebSocket;
        Func<CancellationToken, ValueTask<string?>>? token = options.AccessTokenProvider;
        return StartAsync(ct => OpenWebSocketAsync(uri, transcoder, broker, configure, token, logger, ct), options, cancellationToken);
    }

    /// <summary>Runs a PB client over a WebSocket that is already open (it cannot reconnect: nothing here can open another).</summary>
    public static Task<PbClient> ConnectAsync(System.Net.WebSockets.WebSocket webSocket, BrokerOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(webSocket, null, options, logger, cancellationToken);

    /// <summary>
    /// Runs a PB client over a WebSocket that is already open, whose messages <paramref name="transcoder"/> translates
    /// (null: the banana bytes themselves, sub-protocol <c>pb.banana</c>).
    /// </summary>
    public static async Task<PbClient> ConnectAsync(System.Net.WebSockets.WebSocket webSocket, IBananaTranscoder? transcoder, BrokerOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(webSocket);
        var pipe = new WebSocketPipe(webSocket, transcoder, options?.BananaLimits);
        PbConnection connection = await NegotiateAsync(pipe, pipe, options ?? new BrokerOptions(), logger, "websocket", cancellationToken).ConfigureAwait(false);
        var client = new PbClient(connection, null, null, logger);
        client.Watch(connection);
        return client;
    }

    private static async Task<PbClient> StartAsync(Func<CancellationToken, Task<PbConnection>> open, PbClientOptions options, CancellationToken cancellationToken)
    {
        PbConnection connection = await open(cancellationToken).ConfigureAwait(false);
        var client = new PbClient(connection, open, options.Reconnect, options.Logger);
        client.Watch(connection);
        return client;
    }

    private static async Task<PbConnection> OpenTcpAsync(string host, int port, BrokerOptions options, ILogger? logger, CancellationToken cancellationToken)
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
        return await NegotiateAsync(pipe, pipe, options, logger, "tcp", cancellationToken).ConfigureAwait(false);
    }

    private static async Task<PbConnection> OpenTlsAsync(string host, int port, System.Net.Security.SslClientAuthenticationOptions tls, BrokerOptions options, ILogger? logger, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        System.Net.Security.SslStream? ssl = null;
        try
        {
            await socket.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            SocketPipe.EnableKeepAlive(socket);
            ssl = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
            tls.TargetHost ??= host;
            await ssl.AuthenticateAsClientAsync(tls, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            if (ssl is not null)
            {
                await ssl.DisposeAsync().ConfigureAwait(false);
            }
            socket.Dispose();
            throw;
        }
        var pipe = new StreamPipe(ssl);
        return await NegotiateAsync(pipe, pipe, options, logger, "tcp", cancellationToken).ConfigureAwait(false);
    }

    private static async Task<PbConnection> OpenWebSocketAsync(Uri uri, IBananaTranscoder? transcoder, BrokerOptions options, Action<System.Net.WebSockets.ClientWebSocketOptions>? configure, Func<CancellationToken, ValueTask<string?>>? accessToken, ILogger? logger, CancellationToken cancellationToken)
    {
        string subProtocol = transcoder?.SubProtocol ?? WebSocketPipe.BananaSubProtocol;
        var socket = new System.Net.WebSockets.ClientWebSocket();
        try
        {
            socket.Options.AddSubProtocol(subProtocol);
            configure?.Invoke(socket.Options);
            if (accessToken is not null && await accessToken(cancellationToken).ConfigureAwait(false) is { Length: > 0 } token)
            {
                socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
            }
            await socket.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        if (socket.SubProtocol is { } chosen && chosen != subProtocol)
        {
            socket.Abort();
            socket.Dispose();
            throw new PbProtocolException($"The server chose the WebSocket sub-protocol '{chosen}', which this client did not offer.");
        }
        var pipe = new WebSocketPipe(socket, transcoder, options.BananaLimits);
        return await NegotiateAsync(pipe, pipe, options, logger, "websocket", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs the client side of PB over <paramref name="pipe"/> and waits for the dialect negotiation.</summary>
    private static async Task<PbConnection> NegotiateAsync(System.IO.Pipelines.IDuplexPipe pipe, IAsyncDisposable owner, BrokerOptions options, ILogger? logger, string transportName, CancellationToken cancellationToken)
    {
        // A client publishes no root: its objects reach the server as call arguments (a login's mind, callbacks).
        var connection = new PbConnection(pipe, isServer: false, options, null, logger, owner) { TransportName = transportName };
        connection.Start();
        try
        {
            await connection.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    /// <summary>The server's root object (Twisted's <c>getRootObject</c>), on the connection open now.</summary>
    public async Task<RemoteReference> GetRootObjectAsync(CancellationToken cancellationToken = default)
    {
        PbConnection connection = Connection;
        await connection.WhenReadyAsync(cancellationToken).ConfigureAwait(false);
        return connection.RootObject;
    }

    /// <summary>
    /// Logs in with <paramref name="login"/> (given the root object, it answers the avatar: Pb.Cred's
    /// <c>LoginAsync</c>, <c>LoginTokenAsync</c> and the others call this) and remembers it: after each reconnect
    /// the client runs it again on the new root before raising <see cref="Reconnected"/> with the new avatar.
    /// </summary>
    public async Task<RemoteReference> LoginAsync(Func<RemoteReference, CancellationToken, Task<RemoteReference>> login, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(login);
        RemoteReference root = await GetRootObjectAsync(cancellationToken).ConfigureAwait(false);
        RemoteReference avatar = await login(root, cancellationToken).ConfigureAwait(false);
        _relogin = login;
        return avatar;
    }

    /// <summary>Closes the connection and stops reconnecting: pending calls fail with <see cref="ConnectionLostException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        int was = Interlocked.Exchange(ref _state, (int)PbClientState.Closed);
        if (was == (int)PbClientState.Closed && _stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Connection.DisposeAsync().ConfigureAwait(false);
        if (was == (int)PbClientState.Reconnecting)
        {
            await RaiseClosedAsync(null).ConfigureAwait(false);
        }
    }

    private void Watch(PbConnection connection) => _ = WatchAsync(connection);

    private async Task WatchAsync(PbConnection connection)
    {
        await connection.Completion.ConfigureAwait(false);
        if (_stopping.IsCancellationRequested)
        {
            await RaiseClosedAsync(null).ConfigureAwait(false);
            return;
        }
        Exception lost = connection.CloseReason ?? new ConnectionLostException("The server closed the connection.");
        if (_retryPolicy is null || _open is null)
        {
            Volatile.Write(ref _state, (int)PbClientState.Closed);
            await RaiseClosedAsync(lost).ConfigureAwait(false);
            return;
        }
        if (Interlocked.CompareExchange(ref _state, (int)PbClientState.Reconnecting, (int)PbClientState.Connected) != (int)PbClientState.Connected)
        {
            // DisposeAsync came first.
            await RaiseClosedAsync(null).ConfigureAwait(false);
            return;
        }
        await ReconnectAsync(lost, _retryPolicy, _open).ConfigureAwait(false);
    }

    private async Task ReconnectAsync(Exception lost, IRetryPolicy policy, Func<CancellationToken, Task<PbConnection>> open)
    {
        LogReconnecting(_logger, lost.Message);
        await RaiseAsync(Reconnecting, lost, nameof(Reconnecting)).ConfigureAwait(false);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        Exception reason = lost;
        CancellationToken stopping = _stopping.Token;
        for (long attempt = 0; ; attempt++)
        {
            TimeSpan? delay;
            try
            {
                delay = policy.NextRetryDelay(new RetryContext { PreviousRetryCount = attempt, ElapsedTime = System.Diagnostics.Stopwatch.GetElapsedTime(started), RetryReason = reason });
            }
            catch (Exception e)
            {
                LogPolicyFailed(_logger, e);
                delay = null;
            }
            if (delay is null)
            {
                LogGaveUp(_logger, attempt);
                if (Interlocked.CompareExchange(ref _state, (int)PbClientState.Closed, (int)PbClientState.Reconnecting) == (int)PbClientState.Reconnecting)
                {
                    await RaiseClosedAsync(reason).ConfigureAwait(false);
                }
                return;
            }
            PbConnection? connection = null;
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay.Value, stopping).ConfigureAwait(false);
                }
                stopping.ThrowIfCancellationRequested();
                connection = await open(stopping).ConfigureAwait(false);
                Volatile.Write(ref _connection, connection);
                RemoteReference avatar = _relogin is { } relogin
                    ? await relogin(connection.RootObject, stopping).ConfigureAwait(false)
                    : connection.RootObject;
                if (!connection.IsConnected)
                {
                    throw connection.CloseReason ?? new ConnectionLostException("The new connection closed at once.");
                }
                if (Interlocked.CompareExchange(ref _state, (int)PbClientState.Connected, (int)PbClientState.Reconnecting) != (int)PbClientState.Reconnecting)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                    return;
                }
                Watch(connection);
                LogReconnected(_logger, attempt + 1);
                await RaiseAsync(Reconnected, avatar, nameof(Reconnected)).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
                return;
            }
            catch (Exception e)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync().ConfigureAwait(false);
                }
                reason = e;
                LogAttemptFailed(_logger, attempt + 1, e.Message);
            }
        }
    }

    private Task RaiseClosedAsync(Exception? error) =>
        Interlocked.Exchange(ref _closedRaised, 1) == 0 ? RaiseAsync(Closed, error, nameof(Closed)) : Task.CompletedTask;

    private async Task RaiseAsync<T>(Func<T, Task>? handlers, T argument, string name)
    {
        if (handlers is null)
        {
            return;
        }
        foreach (Func<T, Task> handler in handlers.GetInvocationList().Cast<Func<T, Task>>())
        {
            try
            {
                await handler(argument).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                LogHandlerFailed(_logger, name, e);
            }
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "PB connection lost ({Reason}); reconnecting.")]
    private static partial void LogReconnecting(ILogger logger, string reason);

    [LoggerMessage(EventId = 21, Level = LogLevel.Information, Message = "Reconnect attempt {Attempt} failed: {Reason}")]
    private static partial void LogAttemptFailed(ILogger logger, long attempt, string reason);

    [LoggerMessage(EventId = 22, Level = LogLevel.Information, Message = "PB connection open again after {Attempts} attempts.")]
    private static partial void LogReconnected(ILogger logger, long attempts);

    [LoggerMessage(EventId = 23, Level = LogLevel.Information, Message = "Gave up reconnecting after {Attempts} attempts.")]
    private static partial void LogGaveUp(ILogger logger, long attempts);

    [LoggerMessage(EventId = 24, Level = LogLevel.Error, Message = "The retry policy threw; giving up reconnecting.")]
    private static partial void LogPolicyFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 25, Level = LogLevel.Error, Message = "A {Event} handler threw.")]
    private static partial void LogHandlerFailed(ILogger logger, string @event, Exception exception);
}
