using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pb.Cred;

namespace Pb.AspNetCore.Tests;

/// <summary>ASP.NET identities as PB credentials: JWTs on the WebSocket upgrade and token login on raw TCP.</summary>
public sealed class JwtLoginTests : IAsyncLifetime
{
    private const string Issuer = "pbweb-tests", Audience = "pbweb";
    private static readonly SymmetricSecurityKey s_key = new(new byte[32] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 });
    private static readonly SymmetricSecurityKey s_otherKey = new(new byte[32]);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private WebApplication _app = null!;
    private Uri _webSocket = null!;
    private int _tcpPort;

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
        Uri http;
        (_app, http, _tcpPort) = await KestrelTestApp.StartWithTcpAsync(builder =>
        {
            builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
            {
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = Issuer,
                    ValidAudience = Audience,
                    IssuerSigningKey = s_key,
                    ClockSkew = TimeSpan.Zero,
                };
                o.Events = new JwtBearerEvents { OnMessageReceived = PerspectiveBrokerJwt.ReadAccessTokenFromQuery };
            });
            builder.Services.AddAuthorization();
            builder.Services.AddPerspectiveBroker(o => o.CloseOnTokenExpiry = true)
                .UsePortal(_ => new Portal(new Realm(), new ClaimsIdentityChecker()))
                .AddJwtTokenLogin();
        }, app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapPerspectiveBroker("/pb").RequireAuthorization();
        }, Ct);
        _webSocket = KestrelTestApp.Ws(http);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private static string Token(string subject, TimeSpan? lifetime = null, SecurityKey? key = null, string audience = Audience)
    {
        DateTime now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject)]),
            NotBefore = now.AddMinutes(-10),
            IssuedAt = now.AddMinutes(-10),
            Expires = now + (lifetime ?? TimeSpan.FromMinutes(5)),
            SigningCredentials = new SigningCredentials(key ?? s_key, SecurityAlgorithms.HmacSha256),
        });
    }

    private Uri WithToken(string token) => new($"{_webSocket}?access_token={Uri.EscapeDataString(token)}");

    [Fact]
    public async Task A_jwt_on_the_websocket_logs_in_without_a_password()
    {
        await using PbClient client = await PbClient.ConnectWebSocketAsync(WithToken(Token("alice")), cancellationToken: Ct);
        using RemoteReference avatar = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
        Assert.Equal("alice", await avatar.CallRemoteAsync<string>("whoami"));
    }

    [Fact]
    public async Task Missing_expired_wrongly_signed_and_foreign_tokens_are_refused_before_any_pb_byte()
    {
        Uri[] refused =
        [
            _webSocket,
            WithToken(Token("alice", lifetime: TimeSpan.FromMinutes(-1))),
            WithToken(Token("alice", key: s_otherKey)),
            WithToken(Token("alice", audience: "someone-else")),
        ];
        foreach (Uri uri in refused)
        {
            var e = await Assert.ThrowsAsync<WebSocketException>(() => PbClient.ConnectWebSocketAsync(uri, cancellationToken: Ct));
            Assert.Contains("401", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_service_on_raw_tcp_logs_in_with_the_same_jwt()
    {
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", _tcpPort, cancellationToken: Ct);
        RemoteReference root = await client.GetRootObjectAsync(Ct);

        var badToken = await Assert.ThrowsAsync<RemoteException>(() => root.LoginTokenAsync(Token("mallory", key: s_otherKey), cancellationToken: Ct));
        Assert.Equal(UnauthorizedLoginException.TwistedErrorType, badToken.RemoteType);
        // Nobody authenticated this TCP connection, so there is no identity to log in as.
        var noIdentity = await Assert.ThrowsAsync<RemoteException>(() => root.LoginAuthenticatedAsync(cancellationToken: Ct));
        Assert.Equal(UnauthorizedLoginException.TwistedErrorType, noIdentity.RemoteType);

        using RemoteReference avatar = await root.LoginTokenAsync(Token("bob"), cancellationToken: Ct);
        Assert.Equal("bob", await avatar.CallRemoteAsync<string>("whoami"));
    }

    [Fact]
    public async Task The_connection_closes_when_its_token_expires()
    {
        await using PbClient client = await PbClient.ConnectWebSocketAsync(WithToken(Token("carol", lifetime: TimeSpan.FromSeconds(2))), cancellationToken: Ct);
        using RemoteReference avatar = await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
        Assert.Equal("carol", await avatar.CallRemoteAsync<string>("whoami"));
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using IDisposable registration = avatar.NotifyOnDisconnect(_ => closed.TrySetResult());
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await Assert.ThrowsAsync<DeadReferenceException>(() => avatar.CallRemoteAsync("whoami"));
    }
}
