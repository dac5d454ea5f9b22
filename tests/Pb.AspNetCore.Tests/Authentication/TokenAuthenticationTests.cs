using System.Net.WebSockets;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pb.Cred;

namespace Pb.AspNetCore.Tests;

/// <summary>
/// The token matrix, on the WebSocket upgrade (<c>access_token</c>) and on raw TCP (<c>loginToken</c>): both run the
/// app's own JwtBearer handler, its OnTokenValidated revocation and its IClaimsTransformation, and both close the
/// connection when the token expires, however far away that is.
/// </summary>
public sealed class TokenAuthenticationTests : IAsyncLifetime
{
    private const string Issuer = "pbweb-tests", Audience = "pbweb";
    private static readonly SymmetricSecurityKey s_key = new(Enumerable.Range(1, 32).Select(i => (byte)(i * 7)).ToArray());
    private static readonly SymmetricSecurityKey s_otherKey = new(new byte[32]);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private WebApplication _app = null!;
    private Uri _webSocket = null!;
    private int _tcpPort;
    private int _tokensValidated;

    public enum Transport { WebSocket, Tcp }

    private sealed class User(string name) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;
    }

    private sealed class Realm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId)));
    }

    /// <summary>Names the avatar from the subject, so an avatar named "t:..." proves the transformation ran.</summary>
    private sealed class AvatarClaim : IClaimsTransformation
    {
        public Task<ClaimsPrincipal> TransformAsync(ClaimsPrincipal principal)
        {
            if (principal.FindFirst("pb_avatar") is null && principal.FindFirst(ClaimTypes.NameIdentifier)?.Value is { } subject)
            {
                var identity = new ClaimsIdentity();
                identity.AddClaim(new Claim("pb_avatar", "t:" + subject));
                principal.AddIdentity(identity);
            }
            return Task.FromResult(principal);
        }
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
                o.Events = new JwtBearerEvents
                {
                    OnMessageReceived = PerspectiveBrokerJwt.ReadAccessTokenFromQuery,
                    OnTokenValidated = context =>
                    {
                        Interlocked.Increment(ref _tokensValidated);
                        // Where apps revoke: a deny list, a security stamp, a session store.
                        if (context.Principal?.FindFirst("jti")?.Value == "revoked")
                        {
                            context.Fail("This token was revoked.");
                        }
                        return Task.CompletedTask;
                    },
                };
            });
            builder.Services.AddSingleton<IClaimsTransformation, AvatarClaim>();
            builder.Services.AddAuthorization();
            builder.Services.AddPerspectiveBroker(o =>
                {
                    o.CloseOnTokenExpiry = true;
                    o.Portal.TimeProvider = _time;
                })
                .UsePortal(_ => new Portal(new Realm(), new ClaimsIdentityChecker("pb_avatar")))
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

    private static string Token(
        string subject, TimeSpan? lifetime = null, TimeSpan? notBefore = null, SecurityKey? key = null,
        string audience = Audience, string id = "ok")
    {
        DateTime now = DateTime.UtcNow;
        DateTime nbf = now + (notBefore ?? TimeSpan.FromMinutes(-10));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("jti", id)]),
            NotBefore = nbf,
            IssuedAt = nbf,
            Expires = now + (lifetime ?? TimeSpan.FromMinutes(5)),
            SigningCredentials = new SigningCredentials(key ?? s_key, SecurityAlgorithms.HmacSha256),
        });
    }

    public static TheoryData<Transport, string> RefusedTokens()
    {
        var data = new TheoryData<Transport, string>();
        foreach (Transport transport in Enum.GetValues<Transport>())
        {
            foreach (string kind in new[] { "expired", "not-yet-valid", "wrongly-signed", "wrong-audience", "revoked", "garbage" })
            {
                data.Add(transport, kind);
            }
        }
        return data;
    }

    private static string RefusedToken(string kind) => kind switch
    {
        "expired" => Token("mallory", lifetime: TimeSpan.FromMinutes(-1)),
        "not-yet-valid" => Token("mallory", notBefore: TimeSpan.FromMinutes(5), lifetime: TimeSpan.FromMinutes(10)),
        "wrongly-signed" => Token("mallory", key: s_otherKey),
        "wrong-audience" => Token("mallory", audience: "someone-else"),
        "revoked" => Token("mallory", id: "revoked"),
        "garbage" => "not.a.jwt",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Connects and logs in with <paramref name="token"/> over <paramref name="transport"/>.</summary>
    private async Task<(PbClient Client, RemoteReference Avatar)> LogInAsync(Transport transport, string token)
    {
        if (transport == Transport.WebSocket)
        {
            PbClient ws = await PbClient.ConnectWebSocketAsync(new Uri($"{_webSocket}?access_token={Uri.EscapeDataString(token)}"), cancellationToken: Ct);
            return (ws, await (await ws.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct));
        }
        PbClient tcp = await PbClient.ConnectAsync("127.0.0.1", _tcpPort, cancellationToken: Ct);
        try
        {
            return (tcp, await (await tcp.GetRootObjectAsync(Ct)).LoginTokenAsync(token, cancellationToken: Ct));
        }
        catch
        {
            await tcp.DisposeAsync();
            throw;
        }
    }

    [Theory]
    [MemberData(nameof(RefusedTokens))]
    public async Task Bad_tokens_are_refused_on_both_transports(Transport transport, string kind)
    {
        string token = RefusedToken(kind);
        if (transport == Transport.WebSocket)
        {
            // Refused by the app's authentication before any PB byte.
            var e = await Assert.ThrowsAsync<WebSocketException>(() => LogInAsync(transport, token));
            Assert.Contains("401", e.Message, StringComparison.Ordinal);
        }
        else
        {
            var e = await Assert.ThrowsAsync<RemoteException>(() => LogInAsync(transport, token));
            Assert.Equal(UnauthorizedLoginException.TwistedErrorType, e.RemoteType);
        }
    }

    [Theory]
    [InlineData(Transport.WebSocket)]
    [InlineData(Transport.Tcp)]
    public async Task Logins_run_the_apps_token_events_and_claims_transformation(Transport transport)
    {
        int validatedBefore = Volatile.Read(ref _tokensValidated);
        (PbClient client, RemoteReference avatar) = await LogInAsync(transport, Token("alice"));
        await using (client)
        using (avatar)
        {
            // The avatar is named by the claim IClaimsTransformation added.
            Assert.Equal("t:alice", await avatar.CallRemoteAsync<string>("whoami"));
            Assert.True(Volatile.Read(ref _tokensValidated) > validatedBefore, "OnTokenValidated did not run.");
        }
    }

    [Theory]
    [InlineData(Transport.WebSocket)]
    [InlineData(Transport.Tcp)]
    public async Task A_token_valid_for_sixty_days_keeps_its_connection_until_it_expires(Transport transport)
    {
        // Sixty days is past the 49.7-day limit of one timer.
        (PbClient client, RemoteReference avatar) = await LogInAsync(transport, Token("dave", lifetime: TimeSpan.FromDays(60)));
        await using (client)
        using (avatar)
        {
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using IDisposable registration = avatar.NotifyOnDisconnect(_ => closed.TrySetResult());

            _time.Advance(TimeSpan.FromDays(30));
            Assert.Equal("t:dave", await avatar.CallRemoteAsync<string>("whoami"));
            Assert.False(closed.Task.IsCompleted, "The connection closed 30 days before its token expires.");

            _time.Advance(TimeSpan.FromDays(31));
            await closed.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            await Assert.ThrowsAsync<DeadReferenceException>(() => avatar.CallRemoteAsync("whoami"));
        }
    }
}
