using System.Diagnostics;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pb.Cred;

namespace Pb.AspNetCore.Tests.Hostile;

[CollectionDefinition(nameof(HostilePeersRunAlone), DisableParallelization = true)]
public sealed class HostilePeersRunAlone;

/// <summary>
/// The hostile-peer table of issue 9, each row over real TCP and a real WebSocket against one app (a portal on both,
/// anonymous attackers, a logged-in good client beside them). Each row ends with an error answer for that call or the
/// attacker closed; then the good client still answers, and the managed heap's peak during the row stays bounded
/// (printed). Runs alone (no parallel tests) so the memory figures are the row's own.
/// </summary>
[Collection(nameof(HostilePeersRunAlone))]
public sealed class HostilePeerTableTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Every row may hold at most this much more managed memory at its peak than before it.</summary>
    private const long MemoryBound = 512L * 1024 * 1024;

    private WebApplication _app = null!;
    private Uri _webSocket = null!;
    private int _tcpPort;
    private readonly Realm _realm = new();

    public enum Row
    {
        OversizedString,
        OversizedList,
        OverlongHeader,
        DeepNesting,
        UnknownTypeByte,
        UnknownMessage,
        AnswerToUnknownRequest,
        DecrefOfUnknownAndReleasedIds,
        ReferenceNeverExported,
        UnregisteredClass,
        TooManyRunningCalls,
        HashCollidingKeys,
        Slowloris,
        NeverReadsWhileTheServerPushes,
        GigabyteOfGarbage,
        ThousandConnectionsThatNeverLogIn,
    }

    public static TheoryData<Row, Transport> Rows()
    {
        var data = new TheoryData<Row, Transport>();
        foreach (Row row in Enum.GetValues<Row>())
        {
            data.Add(row, Transport.Tcp);
            data.Add(row, Transport.WebSocket);
        }
        return data;
    }

    internal sealed class Realm : IRealm
    {
        public int Running;
        public int Logins;
        public int Logouts;
        public readonly TaskCompletionSource<Exception> PushStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Logins);
            return ValueTask.FromResult(new AvatarLogin(new User(this, avatarId, mind as RemoteReference), () => Interlocked.Increment(ref Logouts)));
        }
    }

    private sealed class User(Realm realm, string name, RemoteReference? mind) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        [Remote("echo")] public object? Echo(object? value) => value;

        /// <summary>Never finishes until the connection closes.</summary>
        [Remote("hang")]
        public async Task Hang(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref realm.Running);
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref realm.Running);
            }
        }

        /// <summary>Pushes 64 KB one-way calls to the mind from a thread of the server's until pushing fails.</summary>
        [Remote("flood")]
        public void Flood()
        {
            RemoteReference target = mind ?? throw new PbException("flood needs a mind");
            _ = Task.Run(() =>
            {
                byte[] payload = new byte[64 * 1024];
                try
                {
                    for (int i = 0; i < 100_000; i++) // 6.4 GB if nothing stopped it
                    {
                        target.CallRemoteOneWay("notify", payload);
                    }
                    realm.PushStopped.TrySetException(new InvalidOperationException("6.4 GB pushed to a peer that never reads"));
                }
                catch (Exception e)
                {
                    realm.PushStopped.TrySetResult(e);
                }
            });
        }
    }

    public async ValueTask InitializeAsync()
    {
        Uri http;
        (_app, http, _tcpPort) = await KestrelTestApp.StartWithTcpAsync(builder =>
        {
            builder.Services.AddPerspectiveBroker(o =>
                {
                    o.Broker.HandshakeTimeout = TimeSpan.FromSeconds(2);
                    o.Portal.LoginTimeout = TimeSpan.FromSeconds(3);
                })
                .UsePortal(_ => new Portal(_realm, new InMemoryPasswordChecker([new("good", "pw")]), new AllowAnonymousAccess()));
        }, app =>
        {
            app.MapPerspectiveBroker("/pb");
        }, Ct);
        _webSocket = KestrelTestApp.Ws(http);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private int OpenConnections => _app.Services.GetRequiredService<PbConnectionRegistry>().Count;

    private Task<HostilePeer> ConnectAsync(Transport transport, int? receiveBuffer = null) =>
        HostilePeer.ConnectAsync(transport, _tcpPort, _webSocket, Ct, receiveBuffer);

    /// <summary>Connects, negotiates, logs in anonymously (with our object 1 as the mind) and answers the avatar's id.</summary>
    private static async Task<long> LogInAnonymouslyAsync(HostilePeer peer)
    {
        await peer.HandshakeAsync(Ct);
        await peer.SendTreeAsync(HostilePeer.Call(1, "root", "loginAnonymous", new List<object?> { "remote"u8.ToArray(), 1L }), Ct);
        (bool ok, object? avatar) = await peer.AnswerAsync(1, Ct);
        Assert.True(ok, HostilePeer.Describe(avatar));
        var reference = (List<object?>)avatar!;
        Assert.True(HostilePeer.Is((byte[])reference[0]!, "remote"));
        return (long)reference[1]!;
    }

    [Theory]
    [MemberData(nameof(Rows))]
    public async Task Row_ends_with_an_error_or_a_closed_peer_and_harms_nobody_else(Row row, Transport transport)
    {
        await using PbClient good = transport == Transport.Tcp
            ? await PbClient.ConnectAsync("127.0.0.1", _tcpPort, cancellationToken: Ct)
            : await PbClient.ConnectWebSocketAsync(_webSocket, cancellationToken: Ct);
        using RemoteReference goodAvatar = await good.LoginAsync(new UsernamePassword("good", "pw"), cancellationToken: Ct);
        TimeSpan before = await PingAsync(goodAvatar);

        using var memory = new PeakMemory();
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        string outcome = await RunRowAsync(row, transport);
        clock.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        (long baseline, long peak) = memory.Stop();

        TimeSpan after = await PingAsync(goodAvatar);
        Assert.Equal("good", await goodAvatar.CallRemoteAsync<string>("whoami"));
        output.WriteLine($"{row} over {transport}: {outcome}; {clock.Elapsed.TotalSeconds:0.00} s, server+test CPU {cpu.TotalSeconds:0.00} s; " +
            $"managed heap {baseline / 1048576.0:0.0} MiB before, peak {peak / 1048576.0:0.0} MiB; good client answered in {before.TotalMilliseconds:0.0} ms before, {after.TotalMilliseconds:0.0} ms after");
        Assert.True(peak - baseline < MemoryBound, $"the row held {(peak - baseline) / 1048576} MiB");
    }

    private static async Task<TimeSpan> PingAsync(RemoteReference avatar)
    {
        var clock = Stopwatch.StartNew();
        Assert.Equal("ping", await avatar.CallRemoteAsync<string>("echo", "ping").WaitAsync(TimeSpan.FromSeconds(30), Ct));
        return clock.Elapsed;
    }

    /// <summary>Runs one row; answers a line that says how it ended.</summary>
    private async Task<string> RunRowAsync(Row row, Transport transport)
    {
        switch (row)
        {
            case Row.OversizedString:
                // A byte string of 655,361 bytes (one past MaxItemLength): refused at its header.
                return await ClosedAfterAsync(transport, [0x01, 0x00, 0x28, 0x82], WebSocketCloseStatus.ProtocolError);
            case Row.OversizedList:
                return await ClosedAfterAsync(transport, [0x01, 0x00, 0x28, 0x80], WebSocketCloseStatus.ProtocolError);
            case Row.OverlongHeader:
                return await ClosedAfterAsync(transport, [.. Enumerable.Repeat((byte)0x01, 65), 0x81], WebSocketCloseStatus.ProtocolError);
            case Row.DeepNesting:
                return await ClosedAfterAsync(transport, [.. Enumerable.Range(0, 600).SelectMany(_ => new byte[] { 0x01, 0x80 }), 0x00, 0x81], WebSocketCloseStatus.ProtocolError);
            case Row.UnknownTypeByte:
                return await ClosedAfterAsync(transport, [0x01, 0x88], WebSocketCloseStatus.ProtocolError);
            case Row.UnknownMessage:
                return await ClosedAfterAsync(transport, HostilePeer.Encode(new List<object?> { "frobnicate"u8.ToArray(), 1L }), WebSocketCloseStatus.ProtocolError);
            case Row.AnswerToUnknownRequest:
                return await ClosedAfterAsync(transport, HostilePeer.Encode(new List<object?> { "answer"u8.ToArray(), 999L, 1L }), WebSocketCloseStatus.ProtocolError);
            case Row.DecrefOfUnknownAndReleasedIds:
            {
                await using (HostilePeer unknown = await ConnectAsync(transport))
                {
                    await unknown.HandshakeAsync(Ct);
                    await unknown.SendTreeAsync(new List<object?> { "decref"u8.ToArray(), 12345L }, Ct);
                    await AssertClosedAsync(unknown, transport, WebSocketCloseStatus.ProtocolError);
                }
                int logouts = Volatile.Read(ref _realm.Logouts);
                await using HostilePeer released = await ConnectAsync(transport);
                long avatar = await LogInAnonymouslyAsync(released);
                await released.SendTreeAsync(new List<object?> { "decref"u8.ToArray(), avatar }, Ct); // its logout runs
                await released.SendTreeAsync(new List<object?> { "decref"u8.ToArray(), avatar }, Ct); // released already
                await AssertClosedAsync(released, transport, WebSocketCloseStatus.ProtocolError);
                Assert.Equal(logouts + 1, Volatile.Read(ref _realm.Logouts));
                return "closed at the unknown id, and at the released one after exactly one logout";
            }
            case Row.ReferenceNeverExported:
            {
                await using HostilePeer peer = await ConnectAsync(transport);
                await peer.HandshakeAsync(Ct);
                await peer.SendTreeAsync(HostilePeer.Call(7, 777L, "whoami"), Ct);
                (bool ok, object? failure) = await peer.AnswerAsync(7, Ct);
                Assert.False(ok);
                Assert.Contains("Invalid Object ID", HostilePeer.Describe(failure), StringComparison.Ordinal);
                return await StillAnswersAsync(peer, "error answer 'Invalid Object ID'");
            }
            case Row.UnregisteredClass:
            {
                await using HostilePeer peer = await ConnectAsync(transport);
                await peer.HandshakeAsync(Ct);
                // An instance of a class nobody registered, as a login argument: nothing is instantiated.
                var instance = new List<object?> { "os.system"u8.ToArray(), new List<object?> { "dictionary"u8.ToArray() } };
                await peer.SendTreeAsync(HostilePeer.Call(7, "root", "loginAnonymous", instance), Ct);
                (bool ok, object? failure) = await peer.AnswerAsync(7, Ct);
                Assert.False(ok);
                Assert.Contains("InsecureJelly", HostilePeer.Describe(failure), StringComparison.Ordinal);
                return await StillAnswersAsync(peer, "error answer InsecureJelly");
            }
            case Row.TooManyRunningCalls:
            {
                int running = Volatile.Read(ref _realm.Running);
                await using (HostilePeer peer = await ConnectAsync(transport))
                {
                    long avatar = await LogInAnonymouslyAsync(peer);
                    const int limit = 256; // MaxConcurrentInvocations
                    const int calls = limit + 50;
                    var batch = new List<byte>();
                    for (int i = 0; i < calls; i++)
                    {
                        batch.AddRange(HostilePeer.Encode(HostilePeer.Call(100 + i, avatar, "hang")));
                        if (batch.Count > 32 * 1024 || i == calls - 1)
                        {
                            await peer.SendAsync(batch.ToArray(), Ct);
                            batch.Clear();
                        }
                    }
                    // Calls run in the order they came: the last 50 are the refused ones.
                    for (int i = limit; i < calls; i++)
                    {
                        (bool ok, object? failure) = await peer.AnswerAsync(100 + i, Ct);
                        Assert.False(ok);
                        Assert.Contains("MaxConcurrentInvocations", HostilePeer.Describe(failure), StringComparison.Ordinal);
                    }
                    Assert.Equal(running + limit, Volatile.Read(ref _realm.Running));
                }
                // The peer left: every running call is cancelled.
                await EventuallyAsync(() => Volatile.Read(ref _realm.Running) == running, "running calls back to where they were");
                return "256 running, 50 refused with MaxConcurrentInvocations, all cancelled at disconnect";
            }
            case Row.HashCollidingKeys:
            {
                await using HostilePeer peer = await ConnectAsync(transport);
                await peer.HandshakeAsync(Ct);
                // 150,000 integer keys that all hashed alike before seeding ((k << 32) | k): about 1.7 MB, before login.
                var dictionary = new List<object?> { "dictionary"u8.ToArray() };
                for (long k = 1; k <= 150_000; k++)
                {
                    dictionary.Add(new List<object?> { (k << 32) | k, 0L });
                }
                var clock = Stopwatch.StartNew();
                await peer.SendTreeAsync(HostilePeer.Call(7, "root", "nosuch", dictionary), Ct);
                (bool ok, object? failure) = await peer.AnswerAsync(7, Ct);
                Assert.False(ok);
                Assert.Contains("NoSuchMethod", HostilePeer.Describe(failure), StringComparison.Ordinal);
                return await StillAnswersAsync(peer, $"150,000 colliding keys unjellied and refused (NoSuchMethod) in {clock.Elapsed.TotalSeconds:0.00} s");
            }
            case Row.Slowloris:
            {
                await using HostilePeer peer = await ConnectAsync(transport);
                // One byte a second of a valid dialect choice; BrokerOptions.HandshakeTimeout is 2 s here.
                var clock = Stopwatch.StartNew();
                byte[] choice = [.. Pb.Banana.BananaNegotiation.ChoosePb];
                bool closed = false;
                string how = "";
                foreach (byte b in choice)
                {
                    try
                    {
                        await peer.SendAsync(new[] { b }, Ct);
                    }
                    catch (Exception e) when (e is System.Net.Sockets.SocketException or WebSocketException or IOException)
                    {
                        how = $"send failed at {clock.Elapsed.TotalSeconds:0.00} s: {e.GetType().Name} {e.Message}";
                        closed = true;
                        break;
                    }
                    if (await peer.WaitForCloseAsync(TimeSpan.FromSeconds(1), Ct))
                    {
                        closed = true;
                        break;
                    }
                }
                Assert.True(closed || await peer.WaitForCloseAsync(TimeSpan.FromSeconds(5), Ct), "the slow peer was not closed");
                if (transport == Transport.WebSocket)
                {
                    Assert.True(WebSocketCloseStatus.PolicyViolation == peer.CloseStatus, $"close status {peer.CloseStatus}; {how}; closed at {clock.Elapsed.TotalSeconds:0.00} s");
                }
                return $"closed after {clock.Elapsed.TotalSeconds:0.0} s (HandshakeTimeout 2 s)";
            }
            case Row.NeverReadsWhileTheServerPushes:
            {
                await using HostilePeer peer = await ConnectAsync(transport, receiveBuffer: 4096);
                long avatar = await LogInAnonymouslyAsync(peer);
                await peer.SendTreeAsync(HostilePeer.Call(2, avatar, "flood"), Ct);
                // ... and never reads again.
                Exception stopped = await _realm.PushStopped.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);
                Assert.IsType<ConnectionLostException>(stopped);
                Assert.Contains("MaxOutgoingBufferSize", stopped.Message, StringComparison.Ordinal);
                return "pushes stopped and the peer was cut off at MaxOutgoingBufferSize (1 MiB)";
            }
            case Row.GigabyteOfGarbage:
            {
                await using HostilePeer peer = await ConnectAsync(transport);
                await peer.HandshakeAsync(Ct);
                // A list that claims 600,000 items, each a byte string of 600,000 bytes: one message of 360 GB.
                await peer.SendAsync(new byte[] { 0x40, 0x4F, 0x24, 0x80 }, Ct); // 600,000 = 0x40 + 0x4F*128 + 0x24*16384
                byte[] chunk = new byte[4 + 600_000];
                new byte[] { 0x40, 0x4F, 0x24, 0x82 }.CopyTo(chunk, 0);
                long sent = 0;
                const long gigabyte = 1L << 30;
                try
                {
                    while (sent < gigabyte)
                    {
                        await peer.SendAsync(chunk, Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
                        sent += chunk.Length;
                    }
                }
                catch (Exception e) when (e is System.Net.Sockets.SocketException or WebSocketException or IOException or TimeoutException)
                {
                }
                Assert.True(sent < gigabyte, "the server read a gigabyte of one message");
                // (No close status here: the server's close races the bytes still in flight, which reset the socket.)
                await AssertClosedAsync(peer, transport, status: null);
                return $"closed after {sent / 1048576.0:0.0} MiB sent (MaxMessageSize 16 MiB)";
            }
            case Row.ThousandConnectionsThatNeverLogIn:
            {
                int open = OpenConnections;
                int peakOpen = 0;
                var peers = new List<HostilePeer>();
                try
                {
                    for (int i = 0; i < 1000; i++)
                    {
                        HostilePeer peer = await ConnectAsync(transport);
                        peers.Add(peer);
                        await peer.HandshakeAsync(Ct);
                    }
                    peakOpen = OpenConnections - open;
                    // PortalOptions.LoginTimeout is 3 s here: every one of them is closed.
                    foreach (HostilePeer peer in peers)
                    {
                        Assert.True(await peer.WaitForCloseAsync(TimeSpan.FromSeconds(30), Ct), "a peer that never logged in is still open");
                    }
                    await EventuallyAsync(() => OpenConnections == open, "open connections back to the good client's");
                    if (transport == Transport.WebSocket)
                    {
                        Assert.All(peers, p => Assert.Equal(WebSocketCloseStatus.PolicyViolation, p.CloseStatus));
                    }
                }
                finally
                {
                    foreach (HostilePeer peer in peers)
                    {
                        await peer.DisposeAsync();
                    }
                }
                return $"1000 handshaken ({peakOpen} open at once), never logged in: all closed at LoginTimeout";
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(row));
        }
    }

    /// <summary>Negotiates, sends <paramref name="attack"/>, and expects the server to close this peer.</summary>
    private async Task<string> ClosedAfterAsync(Transport transport, byte[] attack, WebSocketCloseStatus status)
    {
        await using HostilePeer peer = await ConnectAsync(transport);
        await peer.HandshakeAsync(Ct);
        await peer.SendAsync(attack, Ct);
        await AssertClosedAsync(peer, transport, status);
        return transport == Transport.WebSocket ? $"closed with {(int)peer.CloseStatus!} {peer.CloseStatus}" : "closed";
    }

    private static async Task AssertClosedAsync(HostilePeer peer, Transport transport, WebSocketCloseStatus? status)
    {
        Assert.True(await peer.WaitForCloseAsync(TimeSpan.FromSeconds(30), Ct), "the server did not close the hostile peer");
        Assert.Equal(0, peer.EmptyMessages);
        if (transport == Transport.WebSocket && status is not null)
        {
            Assert.Equal(status, peer.CloseStatus);
        }
    }

    /// <summary>The peer's connection still serves calls: the root answers a login challenge.</summary>
    private static async Task<string> StillAnswersAsync(HostilePeer peer, string outcome)
    {
        await peer.SendTreeAsync(HostilePeer.Call(8, "root", "login", "good"u8.ToArray()), Ct);
        (bool ok, object? answer) = await peer.AnswerAsync(8, Ct);
        Assert.True(ok, HostilePeer.Describe(answer));
        return outcome + "; that connection still answers";
    }

    private static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        for (int i = 0; i < 600 && !condition(); i++)
        {
            await Task.Delay(50, Ct);
        }
        Assert.True(condition(), what);
    }

    /// <summary>Samples the managed heap every 10 ms; the peak over the baseline is what a row held.</summary>
    private sealed class PeakMemory : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task<long> _sampler;
        private readonly long _baseline;

        public PeakMemory()
        {
            _baseline = GC.GetTotalMemory(forceFullCollection: true);
            _sampler = Task.Run(async () =>
            {
                long peak = _baseline;
                while (!_stop.IsCancellationRequested)
                {
                    peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false));
                    try
                    {
                        await Task.Delay(10, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
                return peak;
            });
        }

        public (long Baseline, long Peak) Stop()
        {
            _stop.Cancel();
            return (_baseline, _sampler.GetAwaiter().GetResult());
        }

        public void Dispose()
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }
}
