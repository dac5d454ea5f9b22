using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Pb.Cred;
using Pb.Jelly;

namespace Pb.AspNetCore.Tests;

/// <summary>
/// The live rooms demo through WebApplicationFactory, with the .NET client: identities from the app (JWT, cookie), the
/// rooms as Cacheables, the Viewable that knows its caller, pokes into a mind, the caps, and the Production guards.
/// The same app in a real browser is tests/Browser.
/// </summary>
public sealed class WebDemoTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Our copy of a demo room ("webdemo.Room"): the state's keys set its properties; changes arrive as calls.</summary>
    public sealed class RoomCopy : RemoteCache
    {
        public string Name { get; set; } = "";
        public long Counter { get; set; }
        public List<object?> Members { get; set; } = [];
        public List<object?> Messages { get; set; } = [];

        public Channel<(string Change, object?[] Args)> Changes { get; } = Channel.CreateUnbounded<(string, object?[])>();

        [Remote("posted")] public void Posted(object? message) => Changes.Writer.TryWrite(("posted", [message]));

        [Remote("edited")] public void Edited(long id, string text) => Changes.Writer.TryWrite(("edited", [id, text]));

        [Remote("members")] public void MembersChanged(List<object?> members) => Changes.Writer.TryWrite(("members", [.. members]));

        [Remote("counter")] public void CounterChanged(long value) => Changes.Writer.TryWrite(("counter", [value]));

        public async Task<object?[]> NextAsync(string change)
        {
            while (true)
            {
                (string name, object?[] args) = await Changes.Reader.ReadAsync(Ct);
                if (name == change)
                {
                    return args;
                }
            }
        }
    }

    public sealed class Mind : Referenceable
    {
        public Channel<string> Pokes { get; } = Channel.CreateUnbounded<string>();

        [Remote("poked")] public void Poked(string from) => Pokes.Writer.TryWrite(from);
    }

    private static BrokerOptions ClientOptions() => new() { Jelly = new JellyOptions { Types = new JellyTypeRegistry().Add<RoomCopy>("webdemo.Room") } };

    private static async Task<PbClient> ConnectAsync(WebApplicationFactory<Program> app, string? token = null, string? subProtocol = null, string? cookie = null, string? origin = null)
    {
        var uri = new Uri(app.Server.BaseAddress, token is null ? "/pb" : $"/pb?access_token={Uri.EscapeDataString(token)}");
        var client = app.Server.CreateWebSocketClient();
        if (subProtocol is not null)
        {
            client.SubProtocols.Add(subProtocol);
        }
        client.ConfigureRequest = request =>
        {
            if (cookie is not null)
            {
                request.Headers.Cookie = cookie;
            }
            if (origin is not null)
            {
                request.Headers.Origin = origin;
            }
        };
        WebSocket socket = await client.ConnectAsync(new UriBuilder(uri) { Scheme = "ws" }.Uri, Ct);
        Assert.Equal(subProtocol, socket.SubProtocol);
        return await PbClient.ConnectAsync(socket, subProtocol == PbMessagePackTranscoder.Name ? PbMessagePackTranscoder.Instance : null, ClientOptions(), cancellationToken: Ct);
    }

    private static async Task<string> TokenAsync(WebApplicationFactory<Program> app, string user, string password)
    {
        using HttpClient http = app.CreateClient();
        HttpResponseMessage response = await http.PostAsJsonAsync("/token", new { username = user, password }, Ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<TokenAnswer>(Ct))!.Token;
    }

    private sealed record TokenAnswer(string Token);

    /// <summary>Signs in as a user with a JWT and logs in over PB with that identity (never a password over PB).</summary>
    private static async Task<(PbClient Client, RemoteReference Avatar)> SignInAsync(WebApplicationFactory<Program> app, string user, string password, Mind? mind = null, string? subProtocol = null)
    {
        PbClient client = await ConnectAsync(app, await TokenAsync(app, user, password), subProtocol);
        RemoteReference avatar = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(mind, Ct);
        return (client, avatar);
    }

    private static async Task<(RoomCopy Room, RemoteReference Desk)> JoinAsync(RemoteReference avatar, string room)
    {
        PbDictionary joined = await avatar.CallRemoteAsync<PbDictionary>("join", room);
        return ((RoomCopy)joined["room"]!, (RemoteReference)joined["desk"]!);
    }

    private static string Text(object? message) => (string)((PbDictionary)message!)["text"]!;

    [Fact]
    public async Task A_jwt_from_the_app_logs_in_over_pb_as_that_user()
    {
        (PbClient client, RemoteReference bob) = await SignInAsync(factory, "bob", "builder");
        await using (client)
        {
            Assert.Equal("bob", await bob.CallRemoteAsync<string>("whoami"));
            Assert.Equal(["lobby", "garden"], await bob.CallRemoteAsync<string[]>("rooms"));
        }
    }

    [Fact]
    public async Task Nobody_reaches_pb_without_signing_in_and_wrong_passwords_get_neither_token_nor_cookie()
    {
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(factory));
        Assert.Contains("401", refused.Message, StringComparison.Ordinal);

        using HttpClient http = factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("/token", new { username = "alice", password = "nope" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("/login", new { username = "alice", password = "wonderlan" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("/login", new { username = "mallory", password = "wonderland" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/me", Ct)).StatusCode);
    }

    [Fact]
    public async Task A_cookie_logs_in_from_the_apps_own_origin_and_is_refused_from_a_foreign_one()
    {
        using HttpClient http = factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });
        HttpResponseMessage signIn = await http.PostAsJsonAsync("/login", new { username = "alice", password = "wonderland" }, Ct);
        signIn.EnsureSuccessStatusCode();
        string setCookie = Assert.Single(signIn.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        string cookie = setCookie[..setCookie.IndexOf(';', StringComparison.Ordinal)];
        string own = factory.Server.BaseAddress.GetLeftPart(UriPartial.Authority);

        await using (PbClient client = await ConnectAsync(factory, cookie: cookie, origin: own))
        {
            using RemoteReference alice = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        }

        // Cross-site WebSocket hijacking: another site's page, the browser attaching alice's cookie. Refused before any PB byte.
        var hijack = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(factory, cookie: cookie, origin: "https://evil.example.net"));
        Assert.Contains("403", hijack.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pb.banana", "pb.msgpack")]
    [InlineData("pb.msgpack", "pb.banana")]
    public async Task What_one_user_posts_reaches_the_others_room_copy_on_either_sub_protocol(string aliceProtocol, string bobProtocol)
    {
        (PbClient aliceClient, RemoteReference alice) = await SignInAsync(factory, "alice", "wonderland", subProtocol: aliceProtocol);
        (PbClient bobClient, RemoteReference bob) = await SignInAsync(factory, "bob", "builder", subProtocol: bobProtocol);
        await using (aliceClient)
        await using (bobClient)
        {
            (RoomCopy bobsRoom, _) = await JoinAsync(bob, "garden");
            Assert.Equal("garden", bobsRoom.Name);
            (_, RemoteReference aliceDesk) = await JoinAsync(alice, "garden");
            string text = $"hello over {aliceProtocol} {Guid.NewGuid()}";
            long id = await aliceDesk.CallRemoteAsync<long>("post", text);

            object?[] posted = await bobsRoom.NextAsync("posted");
            var message = (PbDictionary)posted[0]!;
            Assert.Equal(id, message["id"]);
            Assert.Equal("alice", message["author"]);
            Assert.Equal(text, message["text"]);

            // The Twisted client's way: post through the avatar, without observing.
            string viaAvatar = $"via the avatar {Guid.NewGuid()}";
            await bob.CallRemoteAsync<long>("post", "garden", viaAvatar);
            Assert.Equal(viaAvatar, Text((await bobsRoom.NextAsync("posted"))[0]));
        }
    }

    [Fact]
    public async Task The_rooms_desk_knows_its_caller_so_bob_cannot_edit_alices_message()
    {
        (PbClient aliceClient, RemoteReference alice) = await SignInAsync(factory, "alice", "wonderland");
        (PbClient bobClient, RemoteReference bob) = await SignInAsync(factory, "bob", "builder");
        await using (aliceClient)
        await using (bobClient)
        {
            (RoomCopy aliceRoom, RemoteReference aliceDesk) = await JoinAsync(alice, "lobby");
            (RoomCopy bobRoom, RemoteReference bobDesk) = await JoinAsync(bob, "lobby");
            long id = await aliceDesk.CallRemoteAsync<long>("post", "mine " + Guid.NewGuid());

            var refused = await Assert.ThrowsAsync<RemoteException>(() => bobDesk.CallRemoteAsync("edit", id, "bob was here"));
            Assert.Equal("webdemo.Forbidden", refused.RemoteType);
            Assert.Equal("Only alice can edit this message.", refused.Message);

            await aliceDesk.CallRemoteAsync("edit", id, "mine, edited");
            object?[] edited = await bobRoom.NextAsync("edited");
            Assert.Equal([id, "mine, edited"], edited);
            Assert.Equal([id, "mine, edited"], await aliceRoom.NextAsync("edited"));

            long before = bobRoom.Counter;
            long counted = await bobDesk.CallRemoteAsync<long>("bump");
            Assert.True(counted > before);
            Assert.Equal([counted], await aliceRoom.NextAsync("counter"));
        }
    }

    [Fact]
    public async Task Presence_follows_who_observes_the_room()
    {
        var app = factory.WithWebHostBuilder(_ => { }); // rooms of its own
        (PbClient aliceClient, RemoteReference alice) = await SignInAsync(app, "alice", "wonderland");
        (PbClient bobClient, RemoteReference bob) = await SignInAsync(app, "bob", "builder");
        await using (aliceClient)
        await using (bobClient)
        {
            (RoomCopy aliceRoom, _) = await JoinAsync(alice, "lobby");
            Assert.Equal(["alice"], aliceRoom.Members);
            (RoomCopy bobRoom, _) = await JoinAsync(bob, "lobby");
            Assert.Equal(["alice", "bob"], bobRoom.Members);
            Assert.Equal(["alice", "bob"], await aliceRoom.NextAsync("members"));

            bobRoom.Dispose(); // bob's page leaves the room
            Assert.Equal(["alice"], await aliceRoom.NextAsync("members"));
        }
        await app.DisposeAsync();
    }

    [Fact]
    public async Task A_poke_reaches_every_mind_the_user_logged_in_with_and_an_offline_user_is_an_error()
    {
        var bobsMind = new Mind();
        (PbClient aliceClient, RemoteReference alice) = await SignInAsync(factory, "alice", "wonderland");
        (PbClient bobClient, _) = await SignInAsync(factory, "bob", "builder", bobsMind);
        await using (aliceClient)
        await using (bobClient)
        {
            Assert.True(await alice.CallRemoteAsync<int>("poke", "bob") >= 1);
            Assert.Equal("alice", await bobsMind.Pokes.Reader.ReadAsync(Ct));

            var offline = await Assert.ThrowsAsync<RemoteException>(() => alice.CallRemoteAsync("poke", "carol"));
            Assert.Equal("builtins.LookupError", offline.RemoteType);
            Assert.Equal("carol is not online.", offline.Message);
        }
    }

    [Fact]
    public async Task Message_length_and_room_history_are_capped()
    {
        await using var app = factory.WithWebHostBuilder(b => b.UseSetting("Demo:Rooms:HistoryLength", "5"));
        (PbClient client, RemoteReference alice) = await SignInAsync(app, "alice", "wonderland");
        await using (client)
        {
            (_, RemoteReference desk) = await JoinAsync(alice, "lobby");
            var tooLong = await Assert.ThrowsAsync<RemoteException>(() => desk.CallRemoteAsync("post", new string('x', 501)));
            Assert.Equal("builtins.ValueError", tooLong.RemoteType);
            Assert.Equal("A message is at most 500 characters (this one has 501).", tooLong.Message);
            await desk.CallRemoteAsync("post", new string('y', 500));
            var blank = await Assert.ThrowsAsync<RemoteException>(() => desk.CallRemoteAsync("post", "   "));
            Assert.Equal("A message needs some text.", blank.Message);
            for (int i = 0; i < 8; i++)
            {
                await desk.CallRemoteAsync("post", $"message {i}");
            }
        }
        (PbClient late, RemoteReference bob) = await SignInAsync(app, "bob", "builder");
        await using (late)
        {
            (RoomCopy room, _) = await JoinAsync(bob, "lobby");
            Assert.Equal(["message 3", "message 4", "message 5", "message 6", "message 7"], room.Messages.Select(Text));
        }
    }

    [Fact]
    public async Task Production_with_a_key_has_no_demo_users()
    {
        await using var app = factory.WithWebHostBuilder(b => b.UseEnvironment("Production").UseSetting("Demo:SigningKey", new string('k', 40)));
        using HttpClient http = app.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsJsonAsync("/login", new { username = "alice", password = "wonderland" }, Ct)).StatusCode);
    }

    [Fact]
    public async Task Production_without_a_signing_key_refuses_to_start_and_says_why()
    {
        string dll = typeof(Program).Assembly.Location;
        var start = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["PerspectiveBroker__TcpPort"] = "0";
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(Ct);
        string stderr = await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.Equal(1, process.ExitCode);
        Assert.Contains("Demo:SigningKey is not set", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", await stdout, StringComparison.Ordinal);
    }
}
