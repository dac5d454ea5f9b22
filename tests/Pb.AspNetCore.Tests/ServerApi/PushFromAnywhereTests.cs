using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pb.AspNetCore.Tests.Hostile;
using Pb.Cred;

namespace Pb.AspNetCore.Tests.ServerApi;

/// <summary>
/// <see cref="IPerspectiveBrokerContext"/> over real WebSocket and TCP connections: a <see cref="BackgroundService"/>
/// pushes to every member of a group while members join and leave; the connections list their identity, transport and
/// address; a user's logins are found on every transport; a push to a member that is gone is dropped and counted.
/// </summary>
public sealed class PushFromAnywhereTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The client's object the server pushes into (what a browser page would hand over as its mind).</summary>
    public sealed class TickMind : Referenceable
    {
        private readonly List<long> _ticks = [];

        public long[] Ticks
        {
            get
            {
                lock (_ticks)
                {
                    return [.. _ticks];
                }
            }
        }

        [Remote("tick")]
        public void Tick(long n)
        {
            lock (_ticks)
            {
                _ticks.Add(n);
            }
        }
    }

    /// <summary>Every login joins the group "lobby" with its mind, and leaves it at logout.</summary>
    private sealed class LobbyRealm(IPerspectiveBrokerContext pb) : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken)
        {
            var reference = mind as RemoteReference;
            if (reference is not null)
            {
                pb.Groups.Add("lobby", reference);
            }
            return ValueTask.FromResult(new AvatarLogin(new Member(reference), () =>
            {
                if (reference is not null)
                {
                    pb.Groups.Remove("lobby", reference);
                }
            }));
        }
    }

    private sealed class Member(RemoteReference? mind) : Avatar
    {
        [Remote] public string Ping() => "pong";

        /// <summary>Releases the mind without leaving the group: the next push to it finds it gone.</summary>
        [Remote] public void DropMindQuietly() => mind?.Dispose();
    }

    /// <summary>Pushes tick(n) to the lobby every few milliseconds, from outside any connection.</summary>
    private sealed class Ticker(IPerspectiveBrokerContext pb) : BackgroundService
    {
        private long _last;
        private volatile bool _paused;

        public long Last => Interlocked.Read(ref _last);

        public long Sent;

        public Exception? Failure { get; private set; }

        public void Pause() => _paused = true;

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                while (!stoppingToken.IsCancellationRequested)
                {
                    if (!_paused)
                    {
                        PbPushResult result = pb.Groups.Push("lobby", "tick", Interlocked.Increment(ref _last));
                        Interlocked.Add(ref Sent, result.Sent);
                    }
                    await Task.Delay(2, stoppingToken);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e)
            {
                Failure = e;
            }
        }
    }

    private static readonly Dictionary<string, string> Users = new() { ["alice"] = "wonderland", ["bob"] = "builder", ["carol"] = "cat" };

    private static async Task<(WebApplication App, Uri Ws, int Tcp)> StartAsync()
    {
        (WebApplication app, Uri http, int tcp) = await KestrelTestApp.StartWithTcpAsync(builder =>
        {
            builder.Services.AddSingleton<Ticker>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<Ticker>());
            builder.Services.AddPerspectiveBroker().UsePortal(sp =>
                new Portal(new LobbyRealm(sp.GetRequiredService<IPerspectiveBrokerContext>()), new InMemoryPasswordChecker(Users)));
        }, app => app.MapPerspectiveBroker("/pb"), Ct);
        return (app, KestrelTestApp.Ws(http), tcp);
    }

    private static Task<PbClient> ConnectAsync(Transport transport, Uri ws, int tcp) => transport == Transport.Tcp
        ? PbClient.ConnectAsync("127.0.0.1", tcp, cancellationToken: Ct)
        : PbClient.ConnectWebSocketAsync(ws, cancellationToken: Ct);

    private sealed record Session(PbClient Client, RemoteReference Avatar, TickMind Mind, Transport Transport);

    private static async Task<Session> LogInAsync(string user, Transport transport, Uri ws, int tcp)
    {
        PbClient client = await ConnectAsync(transport, ws, tcp);
        var mind = new TickMind();
        RemoteReference avatar = await client.LoginAsync(new UsernamePassword(user, Users[user]), mind, Ct);
        return new Session(client, avatar, mind, transport);
    }

    [Fact]
    public async Task A_background_service_pushes_to_every_member_of_a_group_over_websocket_and_tcp_while_members_join_and_leave()
    {
        (WebApplication app, Uri ws, int tcp) = await StartAsync();
        await using (app)
        {
            Ticker ticker = app.Services.GetRequiredService<Ticker>();
            IPerspectiveBrokerContext pb = app.Services.GetRequiredService<IPerspectiveBrokerContext>();
            Session[] stayers =
            [
                await LogInAsync("alice", Transport.WebSocket, ws, tcp),
                await LogInAsync("alice", Transport.Tcp, ws, tcp),
                await LogInAsync("bob", Transport.WebSocket, ws, tcp),
                await LogInAsync("bob", Transport.Tcp, ws, tcp),
            ];
            long joinedAt = ticker.Last;

            // Members come and go while the ticker pushes: each gets ticks while it is there.
            for (int i = 0; i < 10; i++)
            {
                Session visitor = await LogInAsync("carol", i % 2 == 0 ? Transport.Tcp : Transport.WebSocket, ws, tcp);
                while (visitor.Mind.Ticks.Length < 3)
                {
                    await Task.Delay(2, Ct);
                }
                await visitor.Client.DisposeAsync();
            }
            // The server notices each departure by itself and the group shrinks back to the four.
            while (pb.Groups.Count("lobby") != stayers.Length)
            {
                await Task.Delay(5, Ct);
            }

            ticker.Pause();
            long last = ticker.Last;
            Assert.Null(ticker.Failure);
            foreach (Session s in stayers)
            {
                Assert.Equal("pong", await s.Avatar.CallRemoteAsync<string>("ping")); // every earlier push is in by now
                long[] ticks = s.Mind.Ticks;
                Assert.True(ticks[0] <= joinedAt + 1, $"{s.Transport}: first tick {ticks[0]} came late");
                Assert.Equal(last, ticks[^1]);
                Assert.Equal(Enumerable.Range((int)ticks[0], ticks.Length).Select(n => (long)n), ticks); // none lost, none twice, in order
            }

            // Who is connected, as an IHubContext user would look it up.
            IReadOnlyList<IPbConnection> connections = pb.Connections;
            Assert.Equal(4, connections.Count);
            Assert.Equal(2, connections.Count(c => c.TransportName == "websocket"));
            Assert.Equal(2, connections.Count(c => c.TransportName == "tcp"));
            Assert.All(connections, c => Assert.NotNull(c.RemoteEndPoint));
            Assert.Equal(4, connections.Select(c => c.ConnectionId).Distinct().Count());
            IReadOnlyList<PbLogin> alice = pb.FindLogins("alice");
            Assert.Equal(2, alice.Count);
            Assert.All(alice, l => Assert.Equal("alice", l.User.Identity?.Name));
            Assert.Equal(["tcp", "websocket"], alice.Select(l => l.Connection.TransportName).Order());
            Assert.Empty(pb.FindLogins("carol"));

            // To one user on all their connections.
            Assert.Equal(new PbPushResult(2, 0), pb.PushToUser("bob", "tick", last + 1));
            foreach (Session s in stayers[2..])
            {
                Assert.Equal("pong", await s.Avatar.CallRemoteAsync<string>("ping"));
                Assert.Equal(last + 1, s.Mind.Ticks[^1]);
            }
            foreach (Session s in stayers)
            {
                await s.Client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_push_to_a_member_that_is_gone_is_dropped_and_counted_never_thrown()
    {
        long dropped = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Pb.Web" && instrument.Name == "pb.pushes.dropped")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref dropped, value));
        listener.Start();

        (WebApplication app, Uri ws, int tcp) = await StartAsync();
        await using (app)
        {
            Ticker ticker = app.Services.GetRequiredService<Ticker>();
            ticker.Pause();
            PbGroups groups = app.Services.GetRequiredService<IPerspectiveBrokerContext>().Groups;
            Session stays = await LogInAsync("alice", Transport.WebSocket, ws, tcp);
            Session gone = await LogInAsync("bob", Transport.Tcp, ws, tcp);
            Assert.Equal(2, groups.Count("lobby"));

            await gone.Avatar.CallRemoteAsync("dropMindQuietly"); // still listed, but its reference is released
            PbPushResult result = groups.Push("lobby", "tick", 7L);
            Assert.Equal(new PbPushResult(1, 1), result);
            Assert.True(Interlocked.Read(ref dropped) >= 1);
            Assert.Equal(1, groups.Count("lobby")); // the dropped member left the group
            Assert.Equal("pong", await stays.Avatar.CallRemoteAsync<string>("ping"));
            Assert.Equal([7L], stays.Mind.Ticks);

            // A connection that closed leaves on its own; pushing to an empty or unknown group is no error.
            await stays.Client.DisposeAsync();
            while (groups.Count("lobby") != 0)
            {
                await Task.Delay(5, Ct);
            }
            Assert.Equal(new PbPushResult(0, 0), groups.Push("lobby", "tick", 8L));
            Assert.Equal(new PbPushResult(0, 0), groups.Push("nobody-here", "tick", 8L));
            await gone.Client.DisposeAsync();
        }
    }
}
