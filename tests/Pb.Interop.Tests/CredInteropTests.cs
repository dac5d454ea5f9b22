using Pb.Tests;
using System.Net;
using System.Text.Json;
using Pb.Cred;

namespace Pb.Interop.Tests;

/// <summary>
/// PB login against real Twisted 22.4, both ways: the Twisted client of python/pb_cred_client.py logs into our
/// portal, and our client logs into the Twisted portal of python/pb_cred_server.py. One contract, eight cases.
/// </summary>
public sealed class CredInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_twisted_client_logs_into_our_portal()
    {
        var realm = new CredRealm();
        var portal = new Portal(realm,
            new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret", ["bob"] = "hunter2" }),
            new AllowAnonymousAccess());
        await using var server = new PbServer(PortalServer.RootFactory(portal));
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        TwistedScript.ScriptResult result = await TwistedScript.RunUncheckedAsync("pb_cred_client.py",
            ["--host", "127.0.0.1", "--port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)], [], Ct);

        TwistedScript.AssertScenarioPassed(result, expectedCases: 8);
    }

    [Fact]
    public async Task A_twisted_client_logs_in_over_tls_to_our_server_and_so_does_ours()
    {
        using System.Security.Cryptography.X509Certificates.X509Certificate2 certificate = Pb.Tests.TestCertificates.Localhost();
        string pem = Path.Combine(Path.GetTempPath(), $"pb-tls-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(pem, certificate.ExportCertificatePem(), Ct);
        try
        {
            var portal = new Portal(new CredRealm(), new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret" }));
            await using var server = new PbServer(PortalServer.RootFactory(portal))
            {
                Tls = new System.Net.Security.SslServerAuthenticationOptions { ServerCertificate = certificate },
            };
            server.Start(new IPEndPoint(IPAddress.Loopback, 0));
            string port = server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

            TwistedScript.ScriptResult twisted = await TwistedScript.RunUncheckedAsync("pb_tls_client.py",
                ["--port", port, "--ca", pem, "--user", "alice", "--password", "secret"], [], Ct);
            Assert.True(twisted.ExitCode == 0, twisted.Stderr + string.Join('\n', twisted.Lines));
            Assert.Equal("alice", Assert.Single(twisted.Lines).GetProperty("whoami").GetString());

            var tls = new System.Net.Security.SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString(),
            };
            await using PbClient ours = await PbClient.ConnectAsync("127.0.0.1", server.Port, tls, cancellationToken: Ct);
            using RemoteReference alice = await ours.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        }
        finally
        {
            File.Delete(pem);
        }
    }

    [Fact]
    public async Task Pipelined_guesses_from_a_twisted_client_are_refused_past_the_limit()
    {
        // The same 50 pipelined login/respond pairs (49 wrong, the right one last): Twisted's own portal, which has
        // no limit, lets the last one in, which shows the script sends them together; ours refuses all 50.
        await using (TwistedServer twisted = await TwistedServer.StartAsync("pb_cred_server.py", Ct))
        {
            JsonElement theirs = await PipelineAsync(twisted.Port);
            Assert.Equal((1, 49), (theirs.GetProperty("accepted").GetInt32(), theirs.GetProperty("refused").GetInt32()));
        }
        var portal = new Portal(new CredRealm(), new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret" }));
        await using var server = new PbServer(PortalServer.RootFactory(portal, new PortalOptions { MaxFailedLoginsPerConnection = 5, FailedLoginDelay = TimeSpan.FromMilliseconds(5) }));
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        JsonElement ours = await PipelineAsync(server.Port);
        Assert.Equal((0, 50), (ours.GetProperty("accepted").GetInt32(), ours.GetProperty("refused").GetInt32()));
    }

    private static async Task<JsonElement> PipelineAsync(int port)
    {
        IReadOnlyList<JsonElement> lines = await TwistedScript.RunAsync("pb_cred_pipelined.py",
            ["--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--user", "alice", "--password", "secret"], [], Ct);
        return lines[^1].GetProperty("summary");
    }

    [Fact]
    public async Task Our_client_logs_into_a_twisted_portal()
    {
        await using TwistedServer twisted = await TwistedServer.StartAsync("pb_cred_server.py", Ct);
        Task<PbClient> Connect() => PbClient.ConnectAsync("127.0.0.1", twisted.Port, cancellationToken: Ct);

        // right password
        await using (PbClient client = await Connect())
        {
            using RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        }

        // wrong password, then the right one on the same connection; unknown user
        await using (PbClient client = await Connect())
        {
            var wrong = await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("alice", "wrong"), cancellationToken: Ct));
            Assert.Equal(UnauthorizedLoginException.TwistedErrorType, wrong.RemoteType);
            Assert.True(wrong.Is("twisted.cred.error.LoginFailed"));
            var unknown = await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("nobody", "x"), cancellationToken: Ct));
            Assert.Equal(UnauthorizedLoginException.TwistedErrorType, unknown.RemoteType);
            using RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        }

        // anonymous
        await using (PbClient client = await Connect())
        {
            using RemoteReference anonymous = await client.LoginAnonymousAsync(cancellationToken: Ct);
            Assert.Equal("anonymous", await anonymous.CallRemoteAsync<string>("whoami"));
        }

        // the server calls back into our mind
        await using (PbClient client = await Connect())
        {
            var mind = new CredMind();
            using RemoteReference bob = await client.LoginAsync(new UsernamePassword("bob", "hunter2"), mind, Ct);
            Assert.Equal(["mind", "hi"], await bob.CallRemoteAsync<object?[]>("notify_mind", "hi"));
            Assert.Equal(["hi"], mind.Heard);
        }

        // logout on disconnect (read through another user's avatar), and two users at once
        await using (PbClient watcher = await Connect())
        {
            using RemoteReference alice = await watcher.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
            long before = await alice.CallRemoteAsync<long>("logout_count", "bob");
            PbClient bobClient = await Connect();
            RemoteReference bob = await bobClient.LoginAsync(new UsernamePassword("bob", "hunter2"), cancellationToken: Ct);
            Assert.Equal("bob", await bob.CallRemoteAsync<string>("whoami"));
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
            Assert.Equal(before, await alice.CallRemoteAsync<long>("logout_count", "bob"));
            await bobClient.DisposeAsync();
            long after = before;
            for (int i = 0; i < 60 && after == before; i++)
            {
                await Task.Delay(50, Ct);
                after = await alice.CallRemoteAsync<long>("logout_count", "bob");
            }
            Assert.Equal(before + 1, after);
        }
    }
}

/// <summary>The contract's realm in C#: avatars with whoami, notify_mind and logout_count.</summary>
internal sealed class CredRealm : IRealm
{
    private readonly Dictionary<string, long> _logouts = [];

    public long LogoutCount(string name)
    {
        lock (_logouts)
        {
            return _logouts.GetValueOrDefault(name);
        }
    }

    public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken)
    {
        string name = avatarId.Length == 0 ? "anonymous" : avatarId;
        return ValueTask.FromResult(new AvatarLogin(new CredUser(this, name, mind), () =>
        {
            lock (_logouts)
            {
                _logouts[name] = _logouts.GetValueOrDefault(name) + 1;
            }
        }));
    }
}

internal sealed class CredUser(CredRealm realm, string name, object? mind) : Avatar
{
    [Remote("whoami")] public string WhoAmI() => name;

    [Remote("notify_mind")] public Task<object?> NotifyMind(string text) =>
        mind is RemoteReference m ? m.CallRemoteAsync("notify", text) : throw new PbException("no mind") { RemoteTypeName = "builtins.ValueError" };

    [Remote("logout_count")] public long LogoutCount(string who) => realm.LogoutCount(who);
}

internal sealed class CredMind : Referenceable
{
    public List<string> Heard { get; } = [];

    [Remote("notify")] public object?[] Notify(string text)
    {
        Heard.Add(text);
        return ["mind", text];
    }
}
