using System.Net.Http.Json;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Mvc.Testing;
using Pb.Cred;
using Pb.AspNetCore;

namespace Pb.AspNetCore.Tests;

/// <summary>The demo app through WebApplicationFactory: JWT, password and anonymous logins over a WebSocket.</summary>
public sealed class WebDemoTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<PbClient> ConnectAsync(string? token = null, string? subProtocol = null, string? cookie = null, string? origin = null)
    {
        var uri = new Uri(factory.Server.BaseAddress, token is null ? "/pb" : $"/pb?access_token={Uri.EscapeDataString(token)}");
        var client = factory.Server.CreateWebSocketClient();
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
        return await PbClient.ConnectAsync(socket, subProtocol == PbMessagePackTranscoder.Name ? PbMessagePackTranscoder.Instance : null, cancellationToken: Ct);
    }

    /// <summary>Signs in through POST /login and answers the cookie the browser would send.</summary>
    private async Task<string> CookieAsync(string user, string password)
    {
        using HttpClient http = factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });
        HttpResponseMessage response = await http.PostAsJsonAsync("/login", new { username = user, password }, Ct);
        response.EnsureSuccessStatusCode();
        string setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        return setCookie[..setCookie.IndexOf(';', StringComparison.Ordinal)];
    }

    private async Task<string> TokenAsync(string user, string password)
    {
        using HttpClient http = factory.CreateClient();
        HttpResponseMessage response = await http.PostAsJsonAsync("/token", new { username = user, password }, Ct);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<TokenResponse>(Ct))!.Token;
    }

    private sealed record TokenResponse(string Token);

    [Fact]
    public async Task A_jwt_authenticated_websocket_gets_that_users_avatar()
    {
        await using PbClient client = await ConnectAsync(await TokenAsync("bob", "hunter2"));
        using RemoteReference bob = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
        Assert.Equal("bob", await bob.CallRemoteAsync<string>("whoami"));
    }

    [Fact]
    public async Task Password_and_anonymous_logins_share_the_board()
    {
        await using PbClient aliceClient = await ConnectAsync();
        using RemoteReference alice = await aliceClient.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        string note = "hello " + Guid.NewGuid();
        await alice.CallRemoteAsync("post", note);

        await using PbClient guestClient = await ConnectAsync();
        using RemoteReference guest = await guestClient.LoginAnonymousAsync(cancellationToken: Ct);
        Assert.Equal("anonymous", await guest.CallRemoteAsync<string>("whoami"));
        Assert.Contains($"alice: {note}", await guest.CallRemoteAsync<string[]>("notes"));

        // No token on the upgrade: there is no identity to log in as.
        var e = await Assert.ThrowsAsync<RemoteException>(() => guestClient.GetRootObjectAsync(Ct).ContinueWith(t => t.Result.LoginAuthenticatedAsync(cancellationToken: Ct), Ct).Unwrap());
        Assert.Equal(UnauthorizedLoginException.TwistedErrorType, e.RemoteType);
    }

    [Theory]
    [InlineData("pb.banana")]
    [InlineData("pb.msgpack")]
    public async Task Both_sub_protocols_log_in_and_share_the_board(string subProtocol)
    {
        await using PbClient client = await ConnectAsync(subProtocol: subProtocol);
        using RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "secret"), cancellationToken: Ct);
        string note = $"via {subProtocol} {Guid.NewGuid()}";
        await alice.CallRemoteAsync("post", note);

        await using PbClient other = await ConnectAsync(await TokenAsync("bob", "hunter2"), subProtocol == "pb.banana" ? "pb.msgpack" : "pb.banana");
        using RemoteReference bob = await (await other.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
        Assert.Contains($"alice: {note}", await bob.CallRemoteAsync<string[]>("notes"));
    }

    [Fact]
    public async Task A_cookie_logs_in_from_the_apps_own_origin_and_is_refused_from_a_foreign_one()
    {
        string cookie = await CookieAsync("alice", "secret");
        string own = factory.Server.BaseAddress.GetLeftPart(UriPartial.Authority);

        await using (PbClient client = await ConnectAsync(cookie: cookie, origin: own))
        {
            using RemoteReference alice = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        }

        // Cross-site WebSocket hijacking: another site's page, the browser attaching alice's cookie. Refused before any PB byte.
        var hijack = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(cookie: cookie, origin: "https://evil.example.net"));
        Assert.Contains("403", hijack.Message, StringComparison.Ordinal);

        // The cookie is what made the difference: without it the same-origin socket has no identity to log in as.
        await using PbClient anonymous = await ConnectAsync(origin: own);
        var e = await Assert.ThrowsAsync<RemoteException>(async () => await (await anonymous.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct));
        Assert.Equal(UnauthorizedLoginException.TwistedErrorType, e.RemoteType);
    }

    [Fact]
    public async Task A_wrong_password_gets_no_token()
    {
        using HttpClient http = factory.CreateClient();
        HttpResponseMessage response = await http.PostAsJsonAsync("/token", new { username = "alice", password = "nope" }, Ct);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
