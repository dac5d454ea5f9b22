using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Pb;

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
    private int _disposed;

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
        ILogger logger = (ILogger?)_loggerFactory?.CreateLogger<PbConnection>() ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        TimeSpan backoff = TimeSpan.Zero;
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
                backoff = TimeSpan.Zero;
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }
                // Accept fails again at once while its cause lasts (too many open files): wait, longer each time, up to
                // a second, instead of spinning a core.
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.TicksPerSecond));
                PbServerLog.AcceptFailed(logger, e.Message, backoff.TotalMilliseconds);
                try
                {
                    await Task.Delay(backoff, _stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            lock (_connections)
            {
                if (_connections.Count >= _options.MaxConnections)
                {
                    PbServerLog.ConnectionRefused(logger, _options.MaxConnections);
                    socket.Dispose();
                    continue;
                }
            }
            if (Tls is null)
            {
                var pipe = new SocketPipe(socket);
                Run(pipe, pipe, logger);
            }
            else
            {
                _ = AuthenticateAsync(socket, Tls, logger);
            }
        }
    }

    /// <summary>
    /// When set, every connection speaks TLS first (Twisted's <c>listenSSL</c>), with this certificate and these
    /// settings. Default null: plain TCP. Use TLS on any network that is not yours: PB's password login sends an MD5
    /// challenge response and <c>loginToken</c> a bearer token. The handshake must end within
    /// <see cref="BrokerOptions.HandshakeTimeout"/>.
    /// </summary>
    public System.Net.Security.SslServerAuthenticationOptions? Tls { get; init; }

    /// <summary>The TLS handshake of one accepted socket, off the accept loop; the connection starts once it succeeded.</summary>
    private async Task AuthenticateAsync(Socket socket, System.Net.Security.SslServerAuthenticationOptions tls, ILogger logger)
    {
        SocketPipe.EnableKeepAlive(socket);
        socket.NoDelay = true;
        var ssl = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            if (_options.HandshakeTimeout != Timeout.InfiniteTimeSpan)
            {
                timeout.CancelAfter(_options.HandshakeTimeout);
            }
            await ssl.AuthenticateAsServerAsync(tls, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or System.Security.Authentication.AuthenticationException or SocketException)
        {
            PbServerLog.TlsHandshakeFailed(logger, e);
            await ssl.DisposeAsync().ConfigureAwait(false);
            return;
        }
        var pipe = new StreamPipe(ssl);
        Run(pipe, pipe, logger);
    }

    private void Run(IDuplexPipe pipe, IAsyncDisposable owner, ILogger logger)
    {
        var connection = new PbConnection(pipe, isServer: true, _options, _rootFactory, logger, owner);
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

    /// <summary>Stops listening and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
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
