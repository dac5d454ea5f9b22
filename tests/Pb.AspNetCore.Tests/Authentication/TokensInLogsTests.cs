using System.Collections.Concurrent;
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

/// <summary>
/// Every log line of the app, the host's request logs included, at Trace, captured while tokens travel on the
/// WebSocket URL and in loginToken: no token (nor its signature) is written anywhere, in messages or in values.
/// </summary>
public sealed class TokensInLogsTests
{
    private static readonly SymmetricSecurityKey s_key = new(Enumerable.Range(0, 32).Select(i => (byte)(i + 100)).ToArray());
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class User(string name) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;
    }

    private sealed class Realm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId)));
    }

    private static string Token(string subject, SecurityKey key) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = "logs",
        Audience = "logs",
        Subject = new ClaimsIdentity([new Claim("sub", subject)]),
        Expires = DateTime.UtcNow.AddMinutes(5),
        SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
    });

    [Fact]
    public async Task No_token_reaches_any_log_line()
    {
        var capture = new CapturingLoggerProvider();
        string good = Token("alice", s_key), bad = Token("mallory", new SymmetricSecurityKey(new byte[32]));
        (WebApplication started, Uri http, int tcpPort) = await KestrelTestApp.StartWithTcpAsync(builder =>
        {
            builder.Logging.AddProvider(capture).SetMinimumLevel(LogLevel.Trace);
            builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
            {
                o.TokenValidationParameters = new TokenValidationParameters { ValidIssuer = "logs", ValidAudience = "logs", IssuerSigningKey = s_key };
                o.Events = new JwtBearerEvents { OnMessageReceived = PerspectiveBrokerJwt.ReadAccessTokenFromQuery };
            });
            builder.Services.AddAuthorization();
            builder.Services.AddPerspectiveBroker()
                .UsePortal(_ => new Portal(new Realm(), new ClaimsIdentityChecker()))
                .AddJwtTokenLogin();
        }, app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapPerspectiveBroker("/pb").RequireAuthorization();
        }, Ct);
        await using (WebApplication app = started)
        {
            Uri WithToken(string token) => new($"ws://{http.Host}:{http.Port}/pb?access_token={Uri.EscapeDataString(token)}");

            await using (PbClient ws = await PbClient.ConnectWebSocketAsync(WithToken(good), cancellationToken: Ct))
            {
                using RemoteReference avatar = await (await ws.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct);
                Assert.Equal("alice", await avatar.CallRemoteAsync<string>("whoami"));
            }
            await Assert.ThrowsAsync<WebSocketException>(() => PbClient.ConnectWebSocketAsync(WithToken(bad), cancellationToken: Ct));
            await using (PbClient tcp = await PbClient.ConnectAsync("127.0.0.1", tcpPort, cancellationToken: Ct))
            {
                RemoteReference root = await tcp.GetRootObjectAsync(Ct);
                await Assert.ThrowsAsync<RemoteException>(() => root.LoginTokenAsync(bad, cancellationToken: Ct));
                using RemoteReference avatar = await root.LoginTokenAsync(good, cancellationToken: Ct);
                Assert.Equal("alice", await avatar.CallRemoteAsync<string>("whoami"));
            }
            await app.StopAsync(Ct);
        }

        CapturingLoggerProvider.Entry[] entries = [.. capture.Entries];
        // The host did log the requests (so this test sees what a console would), with the value redacted.
        Assert.Contains(entries, e => e.Message.Contains("Request starting", StringComparison.Ordinal)
            && e.Message.Contains("access_token=[Redacted]", StringComparison.Ordinal)
            && e.Values.Contains("access_token=[Redacted]", StringComparison.Ordinal));
        foreach (string token in new[] { good, bad })
        {
            string signature = token[(token.LastIndexOf('.') + 1)..];
            foreach (CapturingLoggerProvider.Entry entry in entries)
            {
                Assert.False(entry.Message.Contains(signature, StringComparison.Ordinal) || entry.Values.Contains(signature, StringComparison.Ordinal),
                    $"A token reached the log: [{entry.Category}] {entry.Message}");
            }
        }
    }
}
