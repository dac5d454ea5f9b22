using System.Security.Claims;
using System.Threading.Channels;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pb.Cred;

namespace Pb.AspNetCore.Tests;

/// <summary>
/// The .NET client's automatic reconnect over a real WebSocket: the app restarts on the same port; the client asks its
/// token provider again, upgrades with that token and repeats <c>loginAuthenticated</c>.
/// </summary>
public sealed class WebSocketReconnectTests : IAsyncDisposable
{
    private const string Issuer = "reconnect", Audience = "reconnect";
    private static readonly SymmetricSecurityKey s_key = new(new byte[32] { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8 });
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private WebApplication? _app;
    private int _port;
    private int _logins;

    private sealed class User(string name, int login) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        [Remote("login_number")] public int LoginNumber() => login;
    }

    private sealed class Realm(WebSocketReconnectTests owner) : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId, Interlocked.Increment(ref owner._logins))));
    }

    private async Task StartAppAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls($"http://127.0.0.1:{_port}");
        builder.Logging.ClearProviders();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
            o.TokenValidationParameters = new TokenValidationParameters { ValidIssuer = Issuer, ValidAudience = Audience, IssuerSigningKey = s_key });
        builder.Services.AddAuthorization();
        builder.Services.AddPerspectiveBroker().UsePortal(_ => new Portal(new Realm(this), new ClaimsIdentityChecker()));
        WebApplication app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapPerspectiveBroker("/pb").RequireAuthorization();
        await app.StartAsync(Ct);
        _port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    private static string Token(string subject) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = Audience,
        Subject = new ClaimsIdentity([new Claim("sub", subject)]),
        Expires = DateTime.UtcNow.AddMinutes(5),
        SigningCredentials = new SigningCredentials(s_key, SecurityAlgorithms.HmacSha256),
    });

    [Fact]
    public async Task After_the_app_restarts_the_client_upgrades_with_a_fresh_token_and_logs_in_as_the_same_user()
    {
        await StartAppAsync();
        int tokensAsked = 0;
        var options = new PbClientOptions
        {
            Reconnect = new DelayListRetryPolicy([.. Enumerable.Repeat(TimeSpan.FromMilliseconds(100), 50)]),
            AccessTokenProvider = _ =>
            {
                Interlocked.Increment(ref tokensAsked);
                return ValueTask.FromResult<string?>(Token("alice"));
            },
        };
        await using PbClient client = await PbClient.ConnectWebSocketAsync(new Uri($"ws://127.0.0.1:{_port}/pb"), options, Ct);
        var reconnecting = Channel.CreateUnbounded<Exception>();
        var reconnected = Channel.CreateUnbounded<RemoteReference>();
        client.Reconnecting += e => Task.FromResult(reconnecting.Writer.TryWrite(e));
        client.Reconnected += a => Task.FromResult(reconnected.Writer.TryWrite(a));
        RemoteReference first = await client.LoginAuthenticatedAsync(cancellationToken: Ct);
        Assert.Equal("alice", await first.CallRemoteAsync<string>("whoami"));
        Assert.Equal(1, tokensAsked);

        await _app!.StopAsync(Ct);
        await _app.DisposeAsync();
        _app = null;
        await reconnecting.Reader.ReadAsync(Ct);
        Assert.Equal(PbClientState.Reconnecting, client.State);
        await Assert.ThrowsAsync<DeadReferenceException>(() => first.CallRemoteAsync<string>("whoami"));
        await StartAppAsync();

        RemoteReference avatar = await reconnected.Reader.ReadAsync(Ct);
        Assert.Equal("alice", await avatar.CallRemoteAsync<string>("whoami"));
        Assert.Equal(2, await avatar.CallRemoteAsync<int>("login_number"));
        Assert.Equal("websocket", client.Connection.TransportName);
        // One token per upgrade attempt: the first connection, then each attempt until the app was back.
        Assert.True(tokensAsked >= 2, $"the token provider was asked {tokensAsked} times");
    }
}
