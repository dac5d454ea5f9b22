using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pb.Cred;
using Pb.Tests;

namespace Pb.AspNetCore.Tests;

/// <summary>
/// Raw PB over TCP in the same ASP.NET Core host as the WebSocket endpoint: one portal, one realm, one set of
/// avatars. A real Twisted client on TCP sees what a WebSocket client changed, and the other way round.
/// </summary>
public sealed class TcpInSameHostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A realm whose users share one note.</summary>
    private sealed class NoteRealm : IRealm
    {
        public string Note { get; set; } = "";

        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new NoteUser(this, avatarId)));
    }

    private sealed class NoteUser(NoteRealm realm, string name) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        [Remote("get_note")] public string GetNote() => realm.Note;

        [Remote("set_note")] public void SetNote(string text) => realm.Note = $"{text} (by {name})";
    }

    [Fact]
    public async Task A_twisted_client_on_tcp_and_a_websocket_client_meet_the_same_realm()
    {
        var realm = new NoteRealm();
        ListenOptions? pbListener = null;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddPerspectiveBroker().UsePortal(_ => new Portal(realm,
            new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret", ["bob"] = "hunter2" })));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Listen(IPAddress.Loopback, 0, listen => pbListener = listen.UsePerspectiveBroker());
        });
        await using WebApplication app = builder.Build();
        app.MapPerspectiveBroker("/pb");
        await app.StartAsync(Ct);
        int tcpPort = pbListener!.IPEndPoint!.Port;
        var http = new Uri(app.Urls.First(u => !u.EndsWith($":{tcpPort}", StringComparison.Ordinal)));

        await using PbClient browserLike = await PbClient.ConnectWebSocketAsync(new Uri($"ws://{http.Host}:{http.Port}/pb"), cancellationToken: Ct);
        using RemoteReference alice = await browserLike.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        await alice.CallRemoteAsync("set_note", "from websocket");

        string port = tcpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The Twisted user reads what the WebSocket user wrote...
        TwistedScript.ScriptResult read = await TwistedScript.RunUncheckedAsync("pb_note_client.py",
            ["--port", port, "--user", "bob", "--password", "hunter2"], [], Ct);
        Assert.True(read.ExitCode == 0, read.Stderr);
        Assert.Equal("bob", Assert.Single(read.Lines).GetProperty("whoami").GetString());
        Assert.Equal("from websocket (by alice)", read.Lines[0].GetProperty("note").GetString());

        // ...writes over TCP...
        TwistedScript.ScriptResult write = await TwistedScript.RunUncheckedAsync("pb_note_client.py",
            ["--port", port, "--user", "bob", "--password", "hunter2", "--set", "from twisted"], [], Ct);
        Assert.True(write.ExitCode == 0, write.Stderr);

        // ...and the WebSocket user sees it.
        Assert.Equal("from twisted (by bob)", await alice.CallRemoteAsync<string>("get_note"));
    }
}
