using System.Net;
using System.Text.Json;
using Pb.Cred;

namespace Pb.Tests.Cred;

/// <summary>PB login end to end over real TCP: portal, realm, checkers, challenge-response, logout, isolation.</summary>
public sealed class CredTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed class User(string name, object? mind) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        [Remote("notify_mind")] public Task<object?> NotifyMind(string text) =>
            mind is RemoteReference m ? m.CallRemoteAsync("notify", text) : throw new PbException("no mind") { RemoteTypeName = "builtins.ValueError" };
    }

    public sealed class Realm : IRealm
    {
        public Dictionary<string, int> Logouts { get; } = [];

        public TaskCompletionSource<string> LoggedOut { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken)
        {
            string name = avatarId.Length == 0 ? "anonymous" : avatarId;
            return ValueTask.FromResult(new AvatarLogin(new User(name, mind), () =>
            {
                lock (Logouts)
                {
                    Logouts[name] = Logouts.GetValueOrDefault(name) + 1;
                }
                LoggedOut.TrySetResult(name);
            }));
        }
    }

    public sealed class Mind : Referenceable
    {
        public List<string> Heard { get; } = [];

        [Remote("notify")] public object?[] Notify(string text)
        {
            Heard.Add(text);
            return ["mind", text];
        }
    }

    private sealed class Host : IAsyncDisposable
    {
        public required PbServer Server { get; init; }
        public required Realm Realm { get; init; }

        public Task<PbClient> ConnectAsync() => PbClient.ConnectAsync("127.0.0.1", Server.Port, cancellationToken: Ct);

        public ValueTask DisposeAsync() => Server.DisposeAsync();
    }

    private static Host Start(bool anonymous = true, PortalOptions? options = null, ICredentialsChecker? checker = null)
    {
        var realm = new Realm();
        var checkers = new List<ICredentialsChecker> { checker ?? new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret", ["bob"] = "hunter2" }) };
        if (anonymous)
        {
            checkers.Add(new AllowAnonymousAccess());
        }
        var server = new PbServer(PortalServer.RootFactory(new Portal(realm, [.. checkers]), options ?? new PortalOptions { FailedLoginDelay = TimeSpan.FromMilliseconds(5) }));
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        return new Host { Server = server, Realm = realm };
    }

    [Fact]
    public void The_response_is_what_twisted_computed()
    {
        JsonElement check = TestVectors.Load("session-login.json").GetProperty("login_check");
        byte[] challenge = Convert.FromHexString(check.GetProperty("challenge_hex").GetString()!);
        byte[] response = PbChallenge.Respond(challenge, check.GetProperty("password").GetString()!);
        Assert.Equal(check.GetProperty("response_hex").GetString(), Convert.ToHexStringLower(response));
    }

    [Fact]
    public async Task Right_password_wrong_password_unknown_user_on_one_connection()
    {
        await using Host host = Start();
        await using PbClient client = await host.ConnectAsync();
        var wrong = await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("alice", "wrong"), cancellationToken: Ct));
        Assert.Equal(UnauthorizedLoginException.TwistedErrorType, wrong.RemoteType);
        Assert.Equal("", wrong.Message);
        var unknown = await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("nobody", "x"), cancellationToken: Ct));
        Assert.Equal(UnauthorizedLoginException.TwistedErrorType, unknown.RemoteType);

        using RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
    }

    [Fact]
    public async Task Anonymous_login_needs_the_anonymous_checker()
    {
        await using (Host host = Start())
        {
            await using PbClient client = await host.ConnectAsync();
            using RemoteReference avatar = await client.LoginAnonymousAsync(cancellationToken: Ct);
            Assert.Equal("anonymous", await avatar.CallRemoteAsync<string>("whoami"));
        }
        await using (Host closed = Start(anonymous: false))
        {
            await using PbClient client = await closed.ConnectAsync();
            var e = await Assert.ThrowsAsync<RemoteException>(() => client.LoginAnonymousAsync(cancellationToken: Ct));
            Assert.Equal("twisted.cred.error.UnhandledCredentials", e.RemoteType);
        }
    }

    [Fact]
    public async Task The_avatar_calls_back_into_the_clients_mind()
    {
        await using Host host = Start();
        await using PbClient client = await host.ConnectAsync();
        var mind = new Mind();
        using RemoteReference bob = await client.LoginAsync(new UsernamePassword("bob", "hunter2"), mind, Ct);
        Assert.Equal(["mind", "hi"], await bob.CallRemoteAsync<object?[]>("notify_mind", "hi"));
        Assert.Equal(["hi"], mind.Heard);
    }

    [Fact]
    public async Task Logout_runs_once_when_the_connection_closes()
    {
        await using Host host = Start();
        PbClient client = await host.ConnectAsync();
        _ = await client.LoginAsync(new UsernamePassword("bob", "hunter2"), cancellationToken: Ct);
        await client.DisposeAsync();
        Assert.Equal("bob", await host.Realm.LoggedOut.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        await Task.Delay(100, Ct);
        Assert.Equal(1, host.Realm.Logouts["bob"]);
    }

    [Fact]
    public async Task Logout_runs_once_when_the_client_releases_the_avatar()
    {
        await using Host host = Start();
        PbClient client = await host.ConnectAsync();
        RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        alice.Dispose();
        Assert.Equal("alice", await host.Realm.LoggedOut.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        await client.DisposeAsync();
        await Task.Delay(100, Ct);
        Assert.Equal(1, host.Realm.Logouts["alice"]);
    }

    [Fact]
    public async Task Users_reach_only_their_own_avatars()
    {
        await using Host host = Start();
        await using PbClient aliceClient = await host.ConnectAsync();
        await using PbClient bobClient = await host.ConnectAsync();
        using RemoteReference alice = await aliceClient.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        using RemoteReference bob = await bobClient.LoginAsync(new UsernamePassword("bob", "hunter2"), cancellationToken: Ct);
        Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        Assert.Equal("bob", await bob.CallRemoteAsync<string>("whoami"));

        // Ids are per connection: bob's avatar id, sent on alice's connection, names alice's own objects there,
        // never bob's. Ids this connection was never given reach nothing.
        // (Forged references are never released: a decref for them would release real objects or close the connection.)
        RemoteReference sameNumber = Forge(aliceClient, bob.Luid);
        Assert.Equal("alice", await sameNumber.CallRemoteAsync<string>("whoami"));
        foreach (long forged in new[] { alice.Luid + 1, alice.Luid + 1000 })
        {
            var e = await Assert.ThrowsAsync<RemoteException>(() => Forge(aliceClient, forged).CallRemoteAsync("whoami"));
            Assert.Equal(("twisted.spread.pb.Error", "Invalid Object ID"), (e.RemoteType, e.Message));
        }
        Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
    }

    private static RemoteReference Forge(PbClient client, long luid)
    {
        var reference = new RemoteReference(client.Connection.Broker, luid, isRoot: false);
#pragma warning disable CA1816 // a forged test reference must never send decref, not even from its finalizer
        GC.SuppressFinalize(reference);
#pragma warning restore CA1816
        return reference;
    }

    [Fact]
    public async Task Repeated_failures_close_the_connection()
    {
        await using Host host = Start(options: new PortalOptions { MaxFailedLoginsPerConnection = 3, FailedLoginDelay = TimeSpan.FromMilliseconds(5) });
        await using PbClient client = await host.ConnectAsync();
        for (int i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("alice", "guess" + i), cancellationToken: Ct));
        }
        await client.Connection.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await Assert.ThrowsAnyAsync<Exception>(() => client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct));
    }

    [Fact]
    public async Task A_store_of_digests_checks_passwords_without_holding_them()
    {
        var store = new Dictionary<string, byte[]> { ["carol"] = HashedPasswordChecker.HashPassword("s3cret") };
        var checker = new HashedPasswordChecker((user, _) => ValueTask.FromResult(store.GetValueOrDefault(user)));
        await using Host host = Start(checker: checker);
        await using PbClient client = await host.ConnectAsync();
        await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("carol", "wrong"), cancellationToken: Ct));
        using RemoteReference carol = await client.LoginAsync(new UsernamePassword("carol", "s3cret"), cancellationToken: Ct);
        Assert.Equal("carol", await carol.CallRemoteAsync<string>("whoami"));
        // The portal accepts plain credentials in-process too.
        AvatarLogin direct = await new Portal(new Realm(), checker).LoginAsync(new UsernamePassword("carol", "s3cret"), null, Ct);
        Assert.IsType<User>(direct.Avatar);
    }

    [Fact]
    public async Task A_challenge_answers_only_once()
    {
        await using Host host = Start();
        await using PbClient client = await host.ConnectAsync();
        RemoteReference root = await client.GetRootObjectAsync(Ct);
        var answer = await root.CallRemoteAsync<Pb.Jelly.PbTuple>("login", "alice"u8.ToArray());
        var challenger = (RemoteReference)answer[1]!;
        byte[] response = PbChallenge.Respond((byte[])answer[0]!, "secret");
        using RemoteReference avatar = await challenger.CallRemoteAsync<RemoteReference>("respond", response, null);
        var replay = await Assert.ThrowsAsync<RemoteException>(() => challenger.CallRemoteAsync("respond", response, null));
        Assert.Equal(UnauthorizedLoginException.TwistedErrorType, replay.RemoteType);
    }

    [Fact]
    public async Task Pipelined_guesses_are_counted_one_by_one_and_the_last_right_one_is_refused()
    {
        // 50 challenges, then 50 responses sent together (49 wrong, the right one last), as an attacker pipelines them.
        await using Host host = Start(options: new PortalOptions { MaxFailedLoginsPerConnection = 5, FailedLoginDelay = TimeSpan.FromMilliseconds(5) });
        await using PbClient client = await host.ConnectAsync();
        RemoteReference root = await client.GetRootObjectAsync(Ct);
        Pb.Jelly.PbTuple[] challenges = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => root.CallRemoteAsync<Pb.Jelly.PbTuple>("login", "alice"u8.ToArray())));
        Task<RemoteReference>[] responses = [.. challenges.Select((c, i) => ((RemoteReference)c[1]!).CallRemoteAsync<RemoteReference>(
            "respond", PbChallenge.Respond((byte[])c[0]!, i == 49 ? "secret" : "guess" + i), null))];
        int refused = 0;
        foreach (Task<RemoteReference> response in responses)
        {
            try
            {
                await response;
            }
            catch (Exception e) when (e is RemoteException { RemoteType: UnauthorizedLoginException.TwistedErrorType } or ConnectionLostException)
            {
                refused++;
            }
        }
        Assert.Equal(50, refused);
        await client.Connection.Completion.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Empty(host.Realm.Logouts);
    }

    /// <summary>A realm that answers one avatar per name, whatever the number of logins (as a cache of avatars would).</summary>
    private sealed class SharedRealm : IRealm
    {
        private readonly Dictionary<string, User> _avatars = [];

        public int Logouts;

        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken)
        {
            lock (_avatars)
            {
                User user = _avatars.TryGetValue(avatarId, out User? known) ? known : _avatars[avatarId] = new User(avatarId, mind);
                return ValueTask.FromResult(new AvatarLogin(user, () => Interlocked.Increment(ref Logouts)));
            }
        }
    }

    [Fact]
    public async Task Every_logout_runs_when_the_realm_answers_the_same_avatar_twice()
    {
        var realm = new SharedRealm();
        var checker = new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret" });
        await using var server = new PbServer(PortalServer.RootFactory(new Portal(realm, checker)));
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        PbClient client = await PbClient.ConnectAsync("127.0.0.1", server.Port, cancellationToken: Ct);
        RemoteReference first = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        RemoteReference second = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        Assert.Equal(first.Luid, second.Luid);
        await client.DisposeAsync();
        for (int i = 0; i < 500 && Volatile.Read(ref realm.Logouts) < 2; i++)
        {
            await Task.Delay(10, Ct);
        }
        await Task.Delay(100, Ct);
        Assert.Equal(2, Volatile.Read(ref realm.Logouts));
    }

    [Fact]
    public async Task A_connection_that_never_logs_in_is_closed_at_the_login_timeout()
    {
        await using Host host = Start(options: new PortalOptions { LoginTimeout = TimeSpan.FromMilliseconds(300), FailedLoginDelay = TimeSpan.FromMilliseconds(5) });
        await using PbClient idle = await host.ConnectAsync();
        await using PbClient user = await host.ConnectAsync();
        using RemoteReference alice = await user.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        await idle.Connection.Completion.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await Task.Delay(600, Ct);
        Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        Assert.False(user.Connection.Completion.IsCompleted);
    }

    [Fact]
    public void Portal_options_refuse_out_of_range_values()
    {
        var options = new PortalOptions();
        Assert.Equal(TimeSpan.FromSeconds(30), options.LoginTimeout);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.LoginTimeout = TimeSpan.Zero);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.LoginTimeout = TimeSpan.FromDays(60));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.FailedLoginDelay = TimeSpan.FromSeconds(-1));
        options.LoginTimeout = Timeout.InfiniteTimeSpan;
        Assert.Equal(Timeout.InfiniteTimeSpan, options.LoginTimeout);
    }
}
