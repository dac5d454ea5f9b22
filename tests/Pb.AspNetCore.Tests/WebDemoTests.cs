using System.Net.Http.Json;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Mvc.Testing;
using Pb.Cred;

namespace Pb.AspNetCore.Tests;

/// <summary>The demo app through WebApplicationFactory: JWT, password and anonymous logins over a WebSocket.</summary>
public sealed class WebDemoTests(WebApplicationFactory<Program> factory) : IClassFixture<WebApplicationFactory<Program>>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<PbClient> ConnectAsync(string? token = null)
    {
        var uri = new Uri(factory.Server.BaseAddress, token is null ? "/pb" : $"/pb?access_token={Uri.EscapeDataString(token)}");
        WebSocket socket = await factory.Server.CreateWebSocketClient().ConnectAsync(new UriBuilder(uri) { Scheme = "ws" }.Uri, Ct);
        return await PbClient.ConnectAsync(socket, cancellationToken: Ct);
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

    [Fact]
    public async Task A_wrong_password_gets_no_token()
    {
        using HttpClient http = factory.CreateClient();
        HttpResponseMessage response = await http.PostAsJsonAsync("/token", new { username = "alice", password = "nope" }, Ct);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
