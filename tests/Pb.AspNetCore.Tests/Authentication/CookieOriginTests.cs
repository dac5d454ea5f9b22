using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pb.Cred;

namespace Pb.AspNetCore.Tests;

/// <summary>
/// Cookie-authenticated WebSockets over real Kestrel sockets: the app's own origin (and a listed one) logs in with the
/// cookie's identity; a foreign origin carrying the same cookie (cross-site WebSocket hijacking) is refused with 403
/// before any PB byte, and the endpoint keeps serving.
/// </summary>
public sealed class CookieOriginTests : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private WebApplication _app = null!;
    private Uri _http = null!;

    private sealed class User(string name) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;
    }

    private sealed class Realm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId)));
    }

    public async ValueTask InitializeAsync()
    {
        (_app, _http) = await KestrelTestApp.StartAsync(services =>
        {
            services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o => o.Events.OnRedirectToLogin = context =>
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized; // an API's answer, not a login page
                return Task.CompletedTask;
            });
            services.AddAuthorization();
            services.AddPerspectiveBroker(o => o.AllowedOrigins.Add("https://partner.example.com"))
                .UsePortal(_ => new Portal(new Realm(), new ClaimsIdentityChecker()));
        }, app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapPost("/signin/{user}", async (string user, HttpContext context) =>
            {
                var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, user), new Claim("sub", user)], CookieAuthenticationDefaults.AuthenticationScheme);
                await context.SignInAsync(new ClaimsPrincipal(identity));
                return Results.Ok();
            });
            app.MapPerspectiveBroker("/pb").RequireAuthorization();
        }, Ct);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<string> CookieAsync(string user)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = _http };
        HttpResponseMessage response = await http.PostAsync($"/signin/{user}", null, Ct);
        response.EnsureSuccessStatusCode();
        string setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        return setCookie[..setCookie.IndexOf(';', StringComparison.Ordinal)];
    }

    private Task<PbClient> ConnectAsync(string? cookie, string? origin) =>
        PbClient.ConnectWebSocketAsync(new Uri($"ws://{_http.Host}:{_http.Port}/pb"), configure: ws =>
        {
            ws.CollectHttpResponseDetails = true;
            if (cookie is not null)
            {
                ws.SetRequestHeader("Cookie", cookie);
            }
            if (origin is not null)
            {
                ws.SetRequestHeader("Origin", origin);
            }
        }, cancellationToken: Ct);

    [Fact]
    public async Task A_cookie_logs_in_from_the_apps_origin_and_a_listed_one_and_is_refused_from_a_foreign_one()
    {
        string cookie = await CookieAsync("alice");
        string own = _http.GetLeftPart(UriPartial.Authority);

        foreach (string allowed in new[] { own, "https://partner.example.com" })
        {
            await using PbClient client = await ConnectAsync(cookie, allowed);
            using RemoteReference alice = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
        }

        // Another site's page, the browser attaching alice's cookie: refused at the upgrade.
        var hijack = await Assert.ThrowsAsync<WebSocketException>(() => ConnectAsync(cookie, "https://evil.example.net"));
        Assert.Contains("403", hijack.Message, StringComparison.Ordinal);

        // Without the cookie the endpoint's authorization refuses even the app's own origin.
        var anonymous = await Assert.ThrowsAsync<WebSocketException>(() => ConnectAsync(cookie: null, own));
        Assert.Contains("401", anonymous.Message, StringComparison.Ordinal);

        // And the endpoint still serves alice afterwards.
        await using PbClient again = await ConnectAsync(cookie, own);
        using RemoteReference aliceAgain = await (await again.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
        Assert.Equal("alice", await aliceAgain.CallRemoteAsync<string>("whoami"));
    }
}
