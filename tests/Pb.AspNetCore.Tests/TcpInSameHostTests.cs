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

    [Fact]
    public async Task Raw_pb_over_tls_logs_in_with_a_password_and_a_plain_client_gets_nothing()
    {
        using System.Security.Cryptography.X509Certificates.X509Certificate2 certificate = TestCertificates.Localhost();
        var realm = new NoteRealm();
        ListenOptions? pbListener = null;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddPerspectiveBroker().UsePortal(_ => new Portal(realm,
            new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret" })));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.UseHttps(certificate);              // TLS first: the challenge response and tokens travel inside it
            pbListener = listen.UsePerspectiveBroker();
        }));
        await using WebApplication app = builder.Build();
        await app.StartAsync(Ct);
        int port = pbListener!.IPEndPoint!.Port;

        var tls = new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            // The test's own certificate, pinned; a real client validates the chain (the default).
            RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString(),
        };
        await using (PbClient client = await PbClient.ConnectAsync("127.0.0.1", port, tls, cancellationToken: Ct))
        {
            using RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
            await alice.CallRemoteAsync("set_note", "over tls");
            Assert.Equal("over tls (by alice)", await alice.CallRemoteAsync<string>("get_note"));
        }

        // A client that skips TLS never sees a PB byte: the server waits for a TLS hello that does not come.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        patience.CancelAfter(TimeSpan.FromSeconds(3));
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using PbClient plain = await PbClient.ConnectAsync("127.0.0.1", port, cancellationToken: patience.Token);
        });
    }
}
