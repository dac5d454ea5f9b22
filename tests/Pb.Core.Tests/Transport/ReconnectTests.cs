using System.Net;
using System.Threading.Channels;
using Pb.Cred;

namespace Pb.Tests.Transport;

/// <summary>
/// The .NET client's automatic reconnect over real TCP, as the TypeScript client's: the server goes away and comes back
/// on the same port; the client logs in again with the same credentials and mind and raises its events.
/// </summary>
public sealed class ReconnectTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly List<IAsyncDisposable> _cleanup = [];
    private int _port;
    private int _logins;

    private sealed class User(string name, int login, object? mind) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        [Remote("login_number")] public int LoginNumber() => login;

        [Remote("notify_mind")] public Task<object?> NotifyMind(string text) =>
            mind is RemoteReference m ? m.CallRemoteAsync("notify", text) : throw new PbException("no mind");
    }

    private sealed class Realm(ReconnectTests owner) : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId, Interlocked.Increment(ref owner._logins), mind)));
    }

    private sealed class Mind : Referenceable
    {
        public Channel<string> Heard { get; } = Channel.CreateUnbounded<string>();

        [Remote("notify")] public string Notify(string text)
        {
            Heard.Writer.TryWrite(text);
            return "heard " + text;
        }
    }

    /// <summary>A policy that records what it was told and answers the delays given.</summary>
    private sealed class RecordingPolicy(params TimeSpan?[] delays) : IRetryPolicy
    {
        public List<(long Count, Exception Reason)> Seen { get; } = [];

        public TimeSpan? NextRetryDelay(RetryContext retryContext)
        {
            lock (Seen)
            {
                Seen.Add((retryContext.PreviousRetryCount, retryContext.RetryReason));
            }
            return retryContext.PreviousRetryCount < delays.Length ? delays[retryContext.PreviousRetryCount] : null;
        }
    }

    private PbServer StartServer()
    {
        var server = new PbServer(PortalServer.RootFactory(new Portal(new Realm(this),
            new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret" }), new AllowAnonymousAccess())));
        server.Start(new IPEndPoint(IPAddress.Loopback, _port));
        _port = server.Port;
        _cleanup.Add(server);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable d in _cleanup)
        {
            await d.DisposeAsync();
        }
    }

    private static Func<T, Task> Into<T>(Channel<T> channel) => value =>
    {
        channel.Writer.TryWrite(value);
        return Task.CompletedTask;
    };

    [Fact]
    public async Task After_the_server_restarts_the_client_logs_in_again_with_the_same_credentials_and_mind()
    {
        PbServer server = StartServer();
        var policy = new RecordingPolicy(TimeSpan.Zero, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", _port, new PbClientOptions { Reconnect = policy }, Ct);
        var reconnecting = Channel.CreateUnbounded<Exception>();
        var reconnected = Channel.CreateUnbounded<RemoteReference>();
        var closed = Channel.CreateUnbounded<Exception?>();
        client.Reconnecting += Into(reconnecting);
        client.Reconnected += Into(reconnected);
        client.Closed += Into(closed);
        var mind = new Mind();
        RemoteReference first = await client.LoginAsync(new UsernamePassword("alice", "secret"), mind, Ct);
        Assert.Equal(1, await first.CallRemoteAsync<int>("login_number"));
        PbConnection firstConnection = client.Connection;

        await server.DisposeAsync();
        Exception lost = await reconnecting.Reader.ReadAsync(Ct);
        Assert.IsType<ConnectionLostException>(lost);
        Assert.Equal(PbClientState.Reconnecting, client.State);
        await Assert.ThrowsAsync<DeadReferenceException>(() => first.CallRemoteAsync<string>("whoami"));
        // The server stays away for a few refused attempts, then comes back on the same port.
        while (true)
        {
            lock (policy.Seen)
            {
                if (policy.Seen.Count >= 2)
                {
                    break;
                }
            }
            await Task.Delay(20, Ct);
        }
        StartServer();

        RemoteReference avatar = await reconnected.Reader.ReadAsync(Ct);
        Assert.Equal(PbClientState.Connected, client.State);
        Assert.NotSame(firstConnection, client.Connection);
        Assert.Equal("alice", await avatar.CallRemoteAsync<string>("whoami"));
        Assert.Equal(2, await avatar.CallRemoteAsync<int>("login_number"));
        // The same mind went with the new login: the new avatar calls into it.
        Assert.Equal("heard again", await avatar.CallRemoteAsync<string>("notify_mind", "again"));
        Assert.Equal("again", await mind.Heard.Reader.ReadAsync(Ct));
        lock (policy.Seen)
        {
            Assert.Equal(0, policy.Seen[0].Count);
            Assert.Same(lost, policy.Seen[0].Reason);
            // Refused attempts were told why they failed, and counted on.
            Assert.IsType<System.Net.Sockets.SocketException>(policy.Seen[1].Reason);
            Assert.Equal(Enumerable.Range(0, policy.Seen.Count).Select(i => (long)i), policy.Seen.Select(s => s.Count));
        }
        Assert.False(closed.Reader.TryRead(out _));

        await client.DisposeAsync();
        Assert.Null(await closed.Reader.ReadAsync(Ct));
        Assert.Equal(PbClientState.Closed, client.State);
        Assert.False(reconnecting.Reader.TryRead(out _));
    }

    [Fact]
    public async Task A_client_without_a_login_reconnects_and_hands_over_the_new_root()
    {
        PbServer server = StartServer();
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", _port, new PbClientOptions { Reconnect = new RecordingPolicy(TimeSpan.FromMilliseconds(50)) }, Ct);
        var reconnected = Channel.CreateUnbounded<RemoteReference>();
        client.Reconnected += Into(reconnected);
        await server.DisposeAsync();
        StartServer();
        RemoteReference root = await reconnected.Reader.ReadAsync(Ct);
        Assert.Same(await client.GetRootObjectAsync(Ct), root);
        using RemoteReference avatar = await root.LoginAnonymousAsync(cancellationToken: Ct);
        Assert.Equal("", await avatar.CallRemoteAsync<string>("whoami"));
    }

    [Fact]
    public async Task When_the_policy_gives_up_the_client_closes_once_with_the_last_reason()
    {
        PbServer server = StartServer();
        var policy = new RecordingPolicy(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(10));
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", _port, new PbClientOptions { Reconnect = policy }, Ct);
        var closed = Channel.CreateUnbounded<Exception?>();
        var reconnected = 0;
        client.Closed += Into(closed);
        client.Reconnected += _ => Task.FromResult(Interlocked.Increment(ref reconnected));
        await client.LoginAnonymousAsync(cancellationToken: Ct);

        await server.DisposeAsync();
        Exception? reason = await closed.Reader.ReadAsync(Ct);
        Assert.IsType<System.Net.Sockets.SocketException>(reason);
        Assert.Equal(PbClientState.Closed, client.State);
        lock (policy.Seen)
        {
            // Three attempts, then the fourth question answered null.
            Assert.Equal([0L, 1, 2, 3], policy.Seen.Select(s => s.Count));
        }
        await client.DisposeAsync();
        Assert.False(closed.Reader.TryRead(out _));
        Assert.Equal(0, reconnected);
    }

    [Fact]
    public async Task Disposing_while_reconnecting_stops_the_attempts_and_closes_with_no_error()
    {
        PbServer server = StartServer();
        var policy = new RecordingPolicy(TimeSpan.FromMinutes(5));
        PbClient client = await PbClient.ConnectAsync("127.0.0.1", _port, new PbClientOptions { Reconnect = policy }, Ct);
        var reconnecting = Channel.CreateUnbounded<Exception>();
        var closed = Channel.CreateUnbounded<Exception?>();
        client.Reconnecting += Into(reconnecting);
        client.Closed += Into(closed);
        await server.DisposeAsync();
        await reconnecting.Reader.ReadAsync(Ct);
        StartServer();

        await client.DisposeAsync();
        Assert.Null(await closed.Reader.ReadAsync(Ct));
        Assert.Equal(PbClientState.Closed, client.State);
        await Assert.ThrowsAsync<DeadReferenceException>(async () => await (await client.GetRootObjectAsync(Ct)).CallRemoteAsync("loginAnonymous", [null]));
    }

    [Fact]
    public async Task Without_a_policy_a_lost_connection_closes_the_client_with_the_reason()
    {
        PbServer server = StartServer();
        PbClient client = await PbClient.ConnectAsync("127.0.0.1", _port, cancellationToken: Ct);
        var closed = Channel.CreateUnbounded<Exception?>();
        var reconnecting = 0;
        client.Closed += Into(closed);
        client.Reconnecting += _ => Task.FromResult(Interlocked.Increment(ref reconnecting));
        await server.DisposeAsync();
        Assert.IsType<ConnectionLostException>(await closed.Reader.ReadAsync(Ct));
        Assert.Equal(PbClientState.Closed, client.State);
        await client.DisposeAsync();
        Assert.False(closed.Reader.TryRead(out _));
        Assert.Equal(0, reconnecting);
    }

    [Fact]
    public async Task A_handler_that_throws_does_not_stop_the_reconnect()
    {
        PbServer server = StartServer();
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", _port, new PbClientOptions { Reconnect = new RecordingPolicy(TimeSpan.FromMilliseconds(50)) }, Ct);
        var reconnected = Channel.CreateUnbounded<RemoteReference>();
        client.Reconnecting += _ => throw new InvalidOperationException("a broken handler");
        client.Reconnected += _ => throw new InvalidOperationException("another broken handler");
        client.Reconnected += Into(reconnected);
        await server.DisposeAsync();
        StartServer();
        await reconnected.Reader.ReadAsync(Ct);
        Assert.Equal(PbClientState.Connected, client.State);
    }

    [Fact]
    public void The_default_delays_are_signalrs()
    {
        var policy = new DelayListRetryPolicy();
        var reason = new ConnectionLostException("lost");
        TimeSpan?[] delays = [.. Enumerable.Range(0, 5).Select(i => policy.NextRetryDelay(new RetryContext { PreviousRetryCount = i, RetryReason = reason }))];
        Assert.Equal([TimeSpan.Zero, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30), null], delays);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DelayListRetryPolicy(TimeSpan.FromSeconds(-1)));
    }
}
