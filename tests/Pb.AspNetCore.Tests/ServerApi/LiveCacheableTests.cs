using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Pb.AspNetCore.Tests.Hostile;
using Pb.Jelly;

namespace Pb.AspNetCore.Tests.ServerApi;

/// <summary>
/// <see cref="LiveCacheable"/> over real TCP and WebSocket connections: peers that start observing while changes are
/// broadcast end with exactly the owner's state; observers that disconnect in the middle of broadcasts never make the
/// broadcaster throw; and with 1,000 observers of which one never reads, the others get every change while the
/// silent one's buffer stays bounded until it is closed.
/// </summary>
[Collection(nameof(HostilePeersRunAlone))]
public sealed class LiveCacheableTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A running total whose changes are deltas: a lost or doubled change leaves a copy wrong for good.</summary>
    public sealed class Tally : LiveCacheable
    {
        private long _total;

        public long Total
        {
            get
            {
                lock (SyncRoot)
                {
                    return _total;
                }
            }
        }

        public int Observing => ObserverCount;

        public int Add(long n, byte[]? payload = null)
        {
            lock (SyncRoot)
            {
                _total += n;
                return payload is null ? Broadcast("add", n) : Broadcast("add", n, payload);
            }
        }

        protected override object? GetState(object? perspective) => new Dictionary<string, object?> { ["total"] = _total };
    }

    public sealed class TallyCopy : RemoteCache
    {
        public long Total { get; set; }

        public int Changes { get; private set; }

        [Remote("add")]
        public void Add(long n, byte[]? payload = null)
        {
            Total += n;
            Changes++;
            if (payload is not null)
            {
                Interlocked.Increment(ref s_bulkReceived);
            }
        }
    }

    private static long s_bulkReceived;

    public sealed class TallyRoot(Tally tally) : Root
    {
        [Remote] public Tally GetTally() => tally;

        [Remote] public string Ping() => "pong";
    }

    private static BrokerOptions ClientOptions() => new() { Jelly = new JellyOptions { Types = new JellyTypeRegistry().Add<TallyCopy>("live.Tally") } };

    private static async Task<(WebApplication App, Uri Ws, int Tcp)> StartAsync(Tally tally, int? maxOutgoing = null)
    {
        (WebApplication app, Uri http, int tcp) = await KestrelTestApp.StartWithTcpAsync(
            builder =>
            {
                if (maxOutgoing is not null)
                {
                    // Small kernel send buffers (accepted sockets inherit the listener's): the bytes a silent peer
                    // does not read pile up in the server's own buffer instead of megabytes of loopback buffers.
                    builder.WebHost.UseSockets(sockets => sockets.CreateBoundListenSocket = endpoint =>
                    {
                        System.Net.Sockets.Socket socket = Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
                        socket.SendBufferSize = 8192;
                        return socket;
                    });
                }
                builder.Services.AddPerspectiveBroker(o =>
            {
                o.Broker.Jelly = new JellyOptions { Types = new JellyTypeRegistry().AddCacheable<Tally>("live.Tally") };
                if (maxOutgoing is { } max)
                {
                    o.Broker.MaxOutgoingBufferSize = max;
                }
            }).UseRoot((_, _) => new TallyRoot(tally));
            },
            app => app.MapPerspectiveBroker("/pb"), Ct);
        return (app, KestrelTestApp.Ws(http), tcp);
    }

    private static Task<PbClient> ConnectAsync(Transport transport, Uri ws, int tcp) => transport == Transport.Tcp
        ? PbClient.ConnectAsync("127.0.0.1", tcp, ClientOptions(), cancellationToken: Ct)
        : PbClient.ConnectWebSocketAsync(ws, ClientOptions(), cancellationToken: Ct);

    /// <summary>
    /// Adds 1 in bursts of 64 until stopped; the task fails if a broadcast ever throws. (Unpaced, a pusher outruns its
    /// readers and their connections are closed when a megabyte waits for them, as designed.)
    /// </summary>
    private static Task<long> PushUntilAsync(Tally tally, CancellationToken stop) => Task.Run(async () =>
    {
        long changes = 0;
        while (!stop.IsCancellationRequested)
        {
            tally.Add(1);
            if (++changes % 64 == 0)
            {
                await Task.Delay(1, CancellationToken.None);
            }
        }
        return changes;
    });

    [Fact]
    public async Task Peers_that_start_observing_during_broadcasts_end_with_exactly_the_owners_state()
    {
        var tally = new Tally();
        (WebApplication app, Uri ws, int tcp) = await StartAsync(tally);
        await using (app)
        {
            using var stop = new CancellationTokenSource();
            Task<long> pusher = PushUntilAsync(tally, stop.Token);
            var clients = new List<(PbClient Client, TallyCopy Copy)>();
            try
            {
                for (int i = 0; i < 24; i++)
                {
                    PbClient client = await ConnectAsync(i % 2 == 0 ? Transport.Tcp : Transport.WebSocket, ws, tcp);
                    clients.Add((client, await client.Connection.RootObject.CallRemoteAsync<TallyCopy>("getTally")));
                }
                await stop.CancelAsync();
                long changes = await pusher;
                Assert.True(changes > 0);
                long total = tally.Total;
                Assert.Equal(changes, total);
                foreach ((PbClient client, TallyCopy copy) in clients)
                {
                    // The answer comes after every change written before it: the copy has seen them all by now.
                    Assert.Equal("pong", await client.Connection.RootObject.CallRemoteAsync<string>("ping"));
                    Assert.Equal(total, copy.Total);
                }
                Assert.Equal(24, tally.Observing);
            }
            finally
            {
                await stop.CancelAsync();
                foreach ((PbClient client, _) in clients)
                {
                    await client.DisposeAsync();
                }
            }
        }
    }

    [Fact]
    public async Task Observers_disconnecting_in_the_middle_of_broadcasts_never_make_the_broadcast_throw()
    {
        var tally = new Tally();
        (WebApplication app, Uri ws, int tcp) = await StartAsync(tally);
        await using (app)
        {
            var stayers = new List<(PbClient Client, TallyCopy Copy)>();
            var leavers = new List<PbClient>();
            var silent = new List<HostilePeer>();
            for (int i = 0; i < 30; i++)
            {
                PbClient client = await ConnectAsync(i % 2 == 0 ? Transport.Tcp : Transport.WebSocket, ws, tcp);
                TallyCopy copy = await client.Connection.RootObject.CallRemoteAsync<TallyCopy>("getTally");
                if (i % 3 == 0)
                {
                    leavers.Add(client);
                }
                else
                {
                    stayers.Add((client, copy));
                }
            }
            // Raw peers that observe and then vanish without a word (socket closed mid-stream).
            for (int i = 0; i < 4; i++)
            {
                HostilePeer peer = await HostilePeer.ConnectAsync(i % 2 == 0 ? Transport.Tcp : Transport.WebSocket, tcp, ws, Ct);
                await peer.HandshakeAsync(Ct);
                await peer.SendTreeAsync(HostilePeer.Call(1, "root", "getTally"), Ct);
                Assert.True((await peer.AnswerAsync(1, Ct)).Ok);
                silent.Add(peer);
            }
            Assert.Equal(34, tally.Observing);

            using var stop = new CancellationTokenSource();
            Task<long> pusher = PushUntilAsync(tally, stop.Token);
            foreach (PbClient leaver in leavers)
            {
                await Task.Yield();
                await leaver.DisposeAsync();
            }
            foreach (HostilePeer peer in silent)
            {
                await peer.DisposeAsync();
            }
            // Keep broadcasting until the server has noticed every departure.
            while (tally.Observing > stayers.Count)
            {
                await Task.Delay(5, Ct);
            }
            await stop.CancelAsync();
            long changes = await pusher; // a broadcast that threw would fault this task
            Assert.True(changes > 0);
            foreach ((PbClient client, TallyCopy copy) in stayers)
            {
                Assert.Equal("pong", await client.Connection.RootObject.CallRemoteAsync<string>("ping"));
                Assert.Equal(tally.Total, copy.Total);
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_thousand_observers_and_one_that_never_reads_the_others_get_every_change_and_memory_stays_bounded()
    {
        const int Readers = 999;
        const int Changes = 128;
        const int MaxOutgoing = 64 * 1024;
        var tally = new Tally();
        (WebApplication app, Uri ws, int tcp) = await StartAsync(tally, MaxOutgoing);
        await using (app)
        {
            // The peer that never reads: a tiny receive window, so its bytes pile up in the server's buffer.
            await using HostilePeer sleeper = await HostilePeer.ConnectAsync(Transport.Tcp, tcp, ws, Ct, receiveBuffer: 4096);
            await sleeper.HandshakeAsync(Ct);
            await sleeper.SendTreeAsync(HostilePeer.Call(1, "root", "getTally"), Ct);
            Assert.True((await sleeper.AnswerAsync(1, Ct)).Ok);

            var readers = new (PbClient Client, TallyCopy Copy)[Readers];
            for (int start = 0; start < Readers; start += 50)
            {
                await Task.WhenAll(Enumerable.Range(start, Math.Min(50, Readers - start)).Select(async i =>
                {
                    PbClient client = await ConnectAsync(i % 4 == 0 ? Transport.WebSocket : Transport.Tcp, ws, tcp);
                    readers[i] = (client, await client.Connection.RootObject.CallRemoteAsync<TallyCopy>("getTally"));
                }));
            }
            Assert.Equal(Readers + 1, tally.Observing);
            PbConnectionRegistry registry = app.Services.GetRequiredService<PbConnectionRegistry>();

            Interlocked.Exchange(ref s_bulkReceived, 0);
            byte[] payload = new byte[4096];
            long mostQueued = 0;
            for (int change = 1; change <= Changes; change++)
            {
                int sent = tally.Add(1, payload); // returns at once: nothing waits for the sleeper
                Assert.InRange(sent, Readers, Readers + 1);
                // Paced by the readers (not by time): the next change goes once every reader has this one.
                while (Interlocked.Read(ref s_bulkReceived) < (long)Readers * change)
                {
                    await Task.Delay(1, Ct);
                }
                foreach (IPbConnection connection in registry.Connections)
                {
                    mostQueued = Math.Max(mostQueued, ((PbConnection)connection).PendingOutgoingBytes);
                }
            }
            // The sleeper's backlog grew (it did not read) and never went past the limit: it was closed there.
            Assert.InRange(mostQueued, MaxOutgoing / 4, MaxOutgoing);
            while (tally.Observing > Readers)
            {
                await Task.Delay(5, Ct);
            }
            Assert.True(await sleeper.WaitForCloseAsync(TimeSpan.FromSeconds(30), Ct), "the silent peer was closed");
            foreach ((PbClient client, TallyCopy copy) in readers)
            {
                Assert.Equal(Changes, copy.Changes);
                Assert.Equal(tally.Total, copy.Total);
                Assert.Null(client.Connection.CloseReason);
            }
            await Task.WhenAll(readers.Select(r => r.Client.DisposeAsync().AsTask()));
        }
    }
}
