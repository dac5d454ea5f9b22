using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Pb.Cred;
using Pb.Jelly;
using static Pb.Redis.Tests.ReplicationTests;

namespace Pb.Redis.Tests;

/// <summary>
/// The demo (samples/WebDemo) started with a Redis address, twice: two nodes whose rooms are shared through Redis. A
/// user signed in on node A and one on node B see each other present, each other's posts, and the room's rules.
/// </summary>
[Collection(RedisTests.Name)]
public sealed class WebDemoScaleOutTests(RedisServer redis)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Our copy of a demo room ("webdemo.Room"): the state's keys set its properties; changes arrive as calls.</summary>
    public sealed class RoomCopy : RemoteCache
    {
        private readonly Lock _lock = new();

        public string Name { get; set; } = "";
        public long Counter { get; set; }
        public List<object?> Members { get; set; } = [];
        public List<object?> Messages { get; set; } = [];
        public Channel<string> Changes { get; } = Channel.CreateUnbounded<string>();

        [Remote("posted")] public void Posted(PbDictionary message)
        {
            lock (_lock) { Messages.Add(message); }
            Changes.Writer.TryWrite("posted");
        }

        [Remote("edited")] public void Edited(long id, string text)
        {
            lock (_lock)
            {
                if (Messages.Cast<PbDictionary>().FirstOrDefault(m => Convert.ToInt64(m["id"]) == id) is { } message)
                {
                    message["text"] = text;
                }
            }
            Changes.Writer.TryWrite("edited");
        }

        [Remote("members")] public void MembersChanged(List<object?> members)
        {
            lock (_lock) { Members = members; }
            Changes.Writer.TryWrite("members");
        }

        [Remote("counter")] public void CounterChanged(long value)
        {
            lock (_lock) { Counter = value; }
        }

        [Remote("resync")] public void Resync(PbDictionary state) => SetCopyableState(state);

        public List<string> Texts()
        {
            lock (_lock) { return [.. Messages.Cast<PbDictionary>().Select(m => (string)m["text"]!)]; }
        }

        public List<string> MemberNames()
        {
            lock (_lock) { return [.. Members.Cast<string>()]; }
        }
    }

    private sealed record TokenAnswer(string Token);

    private static async Task<(PbClient Client, RemoteReference Avatar)> SignInAsync(WebApplicationFactory<Program> node, string user, string password)
    {
        using HttpClient http = node.CreateClient();
        HttpResponseMessage response = await http.PostAsJsonAsync("/token", new { username = user, password }, Ct);
        response.EnsureSuccessStatusCode();
        string token = (await response.Content.ReadFromJsonAsync<TokenAnswer>(Ct))!.Token;
        WebSocket socket = await node.Server.CreateWebSocketClient().ConnectAsync(new Uri(node.Server.BaseAddress, $"/pb?access_token={Uri.EscapeDataString(token)}"), Ct);
        var options = new BrokerOptions { Jelly = new JellyOptions { Types = new JellyTypeRegistry().Add<RoomCopy>("webdemo.Room") } };
        PbClient client = await PbClient.ConnectAsync(socket, options, cancellationToken: Ct);
        RemoteReference avatar = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(null, Ct);
        return (client, avatar);
    }

    private static async Task<(RoomCopy Room, RemoteReference Desk)> JoinAsync(RemoteReference avatar, string room)
    {
        PbDictionary joined = await avatar.CallRemoteAsync<PbDictionary>("join", room);
        return ((RoomCopy)joined["room"]!, (RemoteReference)joined["desk"]!);
    }

    [Fact]
    public async Task Browsers_on_two_demo_nodes_share_a_room_through_Redis()
    {
        string prefix = "d" + Guid.NewGuid().ToString("N")[..12];
        WebApplicationFactory<Program> Node() => new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
            b.UseSetting("Redis", redis.Configuration).UseSetting("Demo:RedisPrefix", prefix).UseSetting("PerspectiveBroker:TcpPort", ""));
        await using WebApplicationFactory<Program> nodeA = Node();
        await using WebApplicationFactory<Program> nodeB = Node();
        (PbClient aliceClient, RemoteReference alice) = await SignInAsync(nodeA, "alice", "wonderland");
        (PbClient bobClient, RemoteReference bob) = await SignInAsync(nodeB, "bob", "builder");
        await using (aliceClient)
        await using (bobClient)
        {
            (RoomCopy aliceRoom, RemoteReference aliceDesk) = await JoinAsync(alice, "lobby");
            (RoomCopy bobRoom, RemoteReference bobDesk) = await JoinAsync(bob, "lobby");

            await EventuallyAsync(() => aliceRoom.MemberNames().SequenceEqual(["alice", "bob"]) && bobRoom.MemberNames().SequenceEqual(["alice", "bob"]),
                () => $"alice sees {string.Join(",", aliceRoom.MemberNames())}, bob sees {string.Join(",", bobRoom.MemberNames())}");

            long id = await aliceDesk.CallRemoteAsync<long>("post", "hello from node A");
            await EventuallyAsync(() => bobRoom.Texts().Contains("hello from node A"), () => string.Join(",", bobRoom.Texts()));

            RemoteException refused = await Assert.ThrowsAsync<RemoteException>(() => bobDesk.CallRemoteAsync("edit", id, "bob was here"));
            Assert.Equal("Only alice can edit this message.", refused.Message);
            Assert.Equal("webdemo.Forbidden", refused.RemoteType);

            await aliceDesk.CallRemoteAsync("edit", id, "edited on node A");
            await bobDesk.CallRemoteAsync<long>("post", "hello from node B");
            await EventuallyAsync(() => aliceRoom.Texts().SequenceEqual(["edited on node A", "hello from node B"]) && bobRoom.Texts().SequenceEqual(["edited on node A", "hello from node B"]),
                () => $"alice {string.Join(",", aliceRoom.Texts())}; bob {string.Join(",", bobRoom.Texts())}");
        }
    }
}
