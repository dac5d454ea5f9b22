using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Pb.Banana;

namespace Pb;

/// <summary>A PB client connection over TCP or a WebSocket (Twisted's <c>PBClientFactory</c>).</summary>
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

    /// <summary>
    /// Connects to a PB server over TLS (Twisted's <c>connectSSL</c>; Kestrel's <c>UseHttps()</c> before
    /// <c>UsePerspectiveBroker()</c>). Use it whenever the network is not yours: PB's password login sends an MD5
    /// challenge response and <c>loginToken</c> a bearer token, both readable and replayable on a plain connection.
    /// <paramref name="tls"/> names the server (<see cref="System.Net.Security.SslClientAuthenticationOptions.TargetHost"/>
    /// defaults to <paramref name="host"/>) and may pin or validate its certificate.
    /// </summary>
    public static async Task<PbClient> ConnectAsync(string host, int port, System.Net.Security.SslClientAuthenticationOptions tls, BrokerOptions? options = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tls);
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
    public static Task<PbClient> ConnectWebSocketAsync(Uri uri, BrokerOptions? options = null, Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null, ILogger? logger = null, CancellationToken cancellationToken = default) =>
        ConnectWebSocketAsync(uri, null, options, configure, logger, cancellationToken);

    /// <summary>
    /// Connects over a WebSocket with another sub-protocol than <c>pb.banana</c>: <paramref name="transcoder"/> (for
    /// example Pb.AspNetCore's <c>PbMessagePackTranscoder</c>) names it and translates each message. Null means <c>pb.banana</c>.
    /// </summary>
    public static async Task<PbClient> ConnectWebSocketAsync(Uri uri, IBananaTranscoder? transcoder, BrokerOptions? options = null, Action<System.Net.WebSockets.ClientWebSocketOptions>? configure = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        string subProtocol = transcoder?.SubProtocol ?? WebSocketPipe.BananaSubProtocol;
        var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.AddSubProtocol(subProtocol);
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
        if (socket.SubProtocol is { } chosen && chosen != subProtocol)
        {
            socket.Abort();
            socket.Dispose();
            throw new PbProtocolException($"The server chose the WebSocket sub-protocol '{chosen}', which this client did not offer.");
        }
        return await ConnectAsync(socket, transcoder, options, logger, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs a PB client over a WebSocket that is already open.</summary>
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
