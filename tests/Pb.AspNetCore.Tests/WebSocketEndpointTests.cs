using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pb.Cred;

namespace Pb.AspNetCore.Tests;

/// <summary>MapPerspectiveBroker on real Kestrel sockets, with a .NET client over a real WebSocket.</summary>
public sealed class WebSocketEndpointTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed class Calculator : Root
    {
        [Remote("add_one")] public long AddOne(long n) => n + 1;

        [Remote] public object? Echo(object? x) => x;
    }

    public sealed class User(string name) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;
    }

    private sealed class Realm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId)));
    }

    private static async Task<(WebApplication App, Uri Endpoint)> StartAsync(Action<IServiceCollection> services, Action<WebApplication> map)
    {
        var (app, http) = await KestrelTestApp.StartAsync(services, map, Ct);
        return (app, KestrelTestApp.Ws(http));
    }

    [Fact]
    public async Task A_client_calls_the_root_over_a_websocket()
    {
        var (app, endpoint) = await StartAsync(s => s.AddPerspectiveBroker().UseRoot((_, _) => new Calculator()), a => a.MapPerspectiveBroker("/pb"));
        await using (app)
        {
            await using PbClient client = await PbClient.ConnectWebSocketAsync(endpoint, cancellationToken: Ct);
            RemoteReference root = await client.GetRootObjectAsync(Ct);
            Assert.Equal(42, await root.CallRemoteAsync<long>("add_one", 41));
            var big = new string('x', 200_000); // spans many WebSocket messages and pipe segments
            Assert.Equal(big, await root.CallRemoteAsync<string>("echo", big));
            long[] many = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => root.CallRemoteAsync<long>("add_one", i)));
            Assert.Equal(Enumerable.Range(1, 500).Select(i => (long)i), many);
        }
    }

    [Fact]
    public async Task Username_and_password_login_works_over_the_websocket()
    {
        var (app, endpoint) = await StartAsync(
            s => s.AddPerspectiveBroker().UsePortal(_ => new Portal(new Realm(), new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "secret" }))),
            a => a.MapPerspectiveBroker("/pb"));
        await using (app)
        {
            await using PbClient client = await PbClient.ConnectWebSocketAsync(endpoint, cancellationToken: Ct);
            var wrong = await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("alice", "nope"), cancellationToken: Ct));
            Assert.Equal(UnauthorizedLoginException.TwistedErrorType, wrong.RemoteType);
            using RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        }
    }

    [Fact]
    public async Task A_plain_http_request_gets_a_clear_400()
    {
        var (app, endpoint) = await StartAsync(s => s.AddPerspectiveBroker().UseRoot((_, _) => new Calculator()), a => a.MapPerspectiveBroker("/pb"));
        await using (app)
        {
            using var http = new HttpClient();
            HttpResponseMessage response = await http.GetAsync(new Uri($"http://{endpoint.Host}:{endpoint.Port}/pb"), Ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("WebSocket", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Mapping_without_AddPerspectiveBroker_names_the_missing_call()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        await using WebApplication app = builder.Build();
        var e = Assert.Throws<InvalidOperationException>(() => app.MapPerspectiveBroker("/pb"));
        Assert.Contains("AddPerspectiveBroker", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequireAuthorization_refuses_an_anonymous_upgrade_before_any_pb_byte()
    {
        var (app, endpoint) = await StartAsync(
            s =>
            {
                s.AddAuthentication("Nobody").AddScheme<AuthenticationSchemeOptions, NobodyHandler>("Nobody", null);
                s.AddAuthorization();
                s.AddPerspectiveBroker().UseRoot((_, _) => new Calculator());
            },
            a =>
            {
                a.UseAuthentication();
                a.UseAuthorization();
                a.MapPerspectiveBroker("/pb").RequireAuthorization();
            });
        await using (app)
        {
            var e = await Assert.ThrowsAsync<WebSocketException>(() => PbClient.ConnectWebSocketAsync(endpoint, cancellationToken: Ct));
            Assert.Contains("401", e.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>An authentication scheme that never authenticates anybody, so the challenge is a plain 401.</summary>
    private sealed class NobodyHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync() => Task.FromResult(AuthenticateResult.NoResult());
    }
}
