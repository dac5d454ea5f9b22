using System.Collections.Concurrent;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Pb.AspNetCore.Tests.Hostile;
using Pb.Cred;

namespace Pb.AspNetCore.Tests.ServerApi;

/// <summary>
/// What runs around a call, over real WebSocket and TCP connections: a DI scope per call (a scoped service is new for
/// each call and disposed after it), the caller's context, <c>[Authorize]</c> policies evaluated with the app's
/// IAuthorizationService (one user refused, another allowed, the connection kept), and filters that see every call.
/// </summary>
public sealed class CallPipelineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A scoped service, like a DbContext: one per call, disposed when the call ends.</summary>
    public sealed class Unit : IDisposable
    {
        public static readonly ConcurrentBag<Unit> Made = [];

        public Unit() => Made.Add(this);

        public string Id { get; } = Guid.NewGuid().ToString("N");

        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    public sealed class Clock
    {
        public string Name { get; init; } = "";
    }

    private sealed class Realm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId)));
    }

    public sealed class User(string name) : Avatar
    {
        [Remote] public string Name() => name;

        [Remote]
        public async Task<string> UnitId([FromServices] Unit unit, CancellationToken cancellationToken)
        {
            await Task.Delay(20, cancellationToken);
            Assert.False(unit.Disposed);
            return unit.Id;
        }

        [Remote] public bool SameUnitTwice([FromServices] Unit a, [FromServices] Unit b) => ReferenceEquals(a, b);

        [Remote] public string Keyed([FromKeyedServices("utc")] Clock clock) => clock.Name;

        [Remote]
        public string WhoAmI(PbCallContext call, string greeting)
        {
            call.Items["seen"] = true;
            return $"{greeting} {call.User.Identity?.Name} via {call.Connection.TransportName} calling {call.MethodName} on {call.Target.GetType().Name}";
        }

        [Remote, Authorize(Policy = "alice-only")] public string Secret() => $"the secret, for {name}";

        [Remote] public Vault GetVault() => new();

        [Remote] public string Echo(string text) => text;
    }

    /// <summary>Every method needs the policy unless it allows anonymous callers.</summary>
    [Authorize(Policy = "alice-only")]
    public sealed class Vault : Referenceable
    {
        [Remote] public string Open() => "open";

        [Remote, AllowAnonymous] public string Label() => "vault";
    }

    /// <summary>Sees every call: method, caller, transport, and how it ended.</summary>
    public sealed class RecordingFilter : IPbCallFilter
    {
        public ConcurrentQueue<string> Calls { get; } = new();

        public async ValueTask<object?> InvokeAsync(PbCallContext context, Func<PbCallContext, ValueTask<object?>> next)
        {
            try
            {
                object? result = await next(context);
                Calls.Enqueue($"{context.MethodName} {context.User.Identity?.Name ?? "-"} {context.Connection.TransportName} ok");
                return result;
            }
            catch (Exception e)
            {
                Calls.Enqueue($"{context.MethodName} {context.User.Identity?.Name ?? "-"} {context.Connection.TransportName} {e.GetType().Name}");
                throw;
            }
        }
    }

    /// <summary>Validation as a filter: refuses one argument value before the method runs.</summary>
    public sealed class NoShoutingFilter : IPbCallFilter
    {
        public ValueTask<object?> InvokeAsync(PbCallContext context, Func<PbCallContext, ValueTask<object?>> next) =>
            context.Arguments.OfType<string>().Any(a => a.Any(char.IsLetter) && !a.Any(char.IsLower))
                ? throw new PbException("No shouting.") { RemoteTypeName = "builtins.ValueError" }
                : next(context);

        public bool AppliesTo(Type targetType, System.Reflection.MethodInfo method) => method.Name == nameof(User.Echo);
    }

    private static async Task<(WebApplication App, Uri Ws, int Tcp)> StartAsync()
    {
        (WebApplication app, Uri http, int tcp) = await KestrelTestApp.StartWithTcpAsync(builder =>
        {
            builder.Services.AddScoped<Unit>();
            builder.Services.AddKeyedSingleton("utc", new Clock { Name = "utc clock" });
            builder.Services.AddAuthorization(o => o.AddPolicy("alice-only", p => p.RequireUserName("alice")));
            builder.Services.AddPerspectiveBroker()
                .AddFilter<RecordingFilter>()
                .AddFilter(new NoShoutingFilter())
                .UsePortal(_ => new Portal(new Realm(), new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "a", ["bob"] = "b" })));
        }, app => app.MapPerspectiveBroker("/pb"), Ct);
        return (app, KestrelTestApp.Ws(http), tcp);
    }

    private static async Task<(PbClient Client, RemoteReference Avatar)> LogInAsync(string user, Transport transport, Uri ws, int tcp)
    {
        PbClient client = transport == Transport.Tcp
            ? await PbClient.ConnectAsync("127.0.0.1", tcp, cancellationToken: Ct)
            : await PbClient.ConnectWebSocketAsync(ws, cancellationToken: Ct);
        return (client, await client.LoginAsync(new UsernamePassword(user, user[..1]), cancellationToken: Ct));
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.WebSocket)]
    public async Task A_scoped_service_is_new_for_each_call_shared_within_it_and_disposed_after_it(Transport transport)
    {
        (WebApplication app, Uri ws, int tcp) = await StartAsync();
        await using (app)
        {
            (PbClient client, RemoteReference avatar) = await LogInAsync("alice", transport, ws, tcp);
            await using (client)
            {
                // Twenty calls at once on one connection: twenty scopes, never one shared.
                string[] ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => avatar.CallRemoteAsync<string>("unitId")));
                Assert.Equal(20, ids.Distinct().Count());
                Assert.True(await avatar.CallRemoteAsync<bool>("sameUnitTwice"));
                Assert.Equal("utc clock", await avatar.CallRemoteAsync<string>("keyed"));
                foreach (string id in ids)
                {
                    Assert.True(Unit.Made.Single(u => u.Id == id).Disposed, "the call's scope was disposed after it");
                }
            }
        }
    }

    [Theory]
    [InlineData(Transport.Tcp, "tcp")]
    [InlineData(Transport.WebSocket, "websocket")]
    public async Task A_method_gets_its_callers_context(Transport transport, string name)
    {
        (WebApplication app, Uri ws, int tcp) = await StartAsync();
        await using (app)
        {
            (PbClient client, RemoteReference avatar) = await LogInAsync("bob", transport, ws, tcp);
            await using (client)
            {
                Assert.Equal($"hello bob via {name} calling whoAmI on User", await avatar.CallRemoteAsync<string>("whoAmI", "hello"));
            }
        }
    }

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.WebSocket)]
    public async Task An_authorize_policy_refuses_one_users_call_allows_anothers_and_keeps_the_connection(Transport transport)
    {
        (WebApplication app, Uri ws, int tcp) = await StartAsync();
        await using (app)
        {
            (PbClient aliceClient, RemoteReference alice) = await LogInAsync("alice", transport, ws, tcp);
            (PbClient bobClient, RemoteReference bob) = await LogInAsync("bob", transport, ws, tcp);
            await using (aliceClient)
            await using (bobClient)
            {
                Assert.Equal("the secret, for alice", await alice.CallRemoteAsync<string>("secret"));
                RemoteException refused = await Assert.ThrowsAsync<RemoteException>(() => bob.CallRemoteAsync<string>("secret"));
                Assert.Equal("twisted.cred.error.Unauthorized", refused.RemoteType);
                Assert.Equal("Not authorized to call secret.", refused.Message);
                Assert.Equal("bob", await bob.CallRemoteAsync<string>("name")); // the connection stays

                // [Authorize] on a class covers its methods; [AllowAnonymous] lifts it for one.
                using RemoteReference aliceVault = await alice.CallRemoteAsync<RemoteReference>("getVault");
                using RemoteReference bobVault = await bob.CallRemoteAsync<RemoteReference>("getVault");
                Assert.Equal("open", await aliceVault.CallRemoteAsync<string>("open"));
                Assert.Equal("twisted.cred.error.Unauthorized", (await Assert.ThrowsAsync<RemoteException>(() => bobVault.CallRemoteAsync<string>("open"))).RemoteType);
                Assert.Equal("vault", await bobVault.CallRemoteAsync<string>("label"));
            }
        }
    }

    [Theory]
    [InlineData(Transport.Tcp, "tcp")]
    [InlineData(Transport.WebSocket, "websocket")]
    public async Task A_filter_sees_every_call_and_a_validation_filter_refuses_bad_arguments(Transport transport, string name)
    {
        (WebApplication app, Uri ws, int tcp) = await StartAsync();
        await using (app)
        {
            RecordingFilter recorder = app.Services.GetRequiredService<RecordingFilter>();
            (PbClient client, RemoteReference avatar) = await LogInAsync("alice", transport, ws, tcp);
            await using (client)
            {
                Assert.Equal("quiet", await avatar.CallRemoteAsync<string>("echo", "quiet"));
                RemoteException shout = await Assert.ThrowsAsync<RemoteException>(() => avatar.CallRemoteAsync<string>("echo", "LOUD"));
                Assert.Equal("builtins.ValueError", shout.RemoteType);
                await Assert.ThrowsAsync<RemoteException>(() => avatar.CallRemoteAsync("noSuchMethod"));
                avatar.CallRemoteOneWay("name");
                Assert.Equal("alice", await avatar.CallRemoteAsync<string>("name"));
            }
            // The portal's own login calls go through the filters too. An unknown method never reaches them (no method).
            Assert.Equal(
            [
                $"login - {name} ok",
                $"respond - {name} ok",
                $"echo alice {name} ok",
                $"echo alice {name} PbException",
                $"name alice {name} ok",
                $"name alice {name} ok",
            ], recorder.Calls);
        }
    }
}
