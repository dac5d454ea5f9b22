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
/// Over authenticated WebSockets: only [Remote] methods answer, and an avatar id of another user's connection reaches
/// nothing of that user (ids are per connection). Each refusal is an error for that call; the connection stays.
/// </summary>
public sealed class AuthorizationTests : IAsyncLifetime
{
    private static readonly SymmetricSecurityKey s_key = new(Enumerable.Range(0, 32).Select(i => (byte)(255 - i)).ToArray());
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private WebApplication _app = null!;
    private Uri _webSocket = null!;

    private sealed class User(string name) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        /// <summary>Public, but not remote.</summary>
        public string Secret() => "secret of " + name;

        public void Shutdown() => throw new InvalidOperationException("must never run");
    }

    private sealed class Realm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User(avatarId)));
    }

    public async ValueTask InitializeAsync()
    {
        Uri http;
        (_app, http) = await KestrelTestApp.StartAsync(services =>
        {
            services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
            {
                o.TokenValidationParameters = new TokenValidationParameters { ValidIssuer = "authz", ValidAudience = "authz", IssuerSigningKey = s_key };
                o.Events = new JwtBearerEvents { OnMessageReceived = PerspectiveBrokerJwt.ReadAccessTokenFromQuery };
            });
            services.AddAuthorization();
            services.AddPerspectiveBroker().UsePortal(_ => new Portal(new Realm(), new ClaimsIdentityChecker()));
        }, app =>
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.MapPerspectiveBroker("/pb").RequireAuthorization();
        }, Ct);
        _webSocket = KestrelTestApp.Ws(http);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private async Task<(PbClient Client, RemoteReference Avatar)> LogInAsync(string user)
    {
        string token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "authz",
            Audience = "authz",
            Subject = new ClaimsIdentity([new Claim("sub", user)]),
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = new SigningCredentials(s_key, SecurityAlgorithms.HmacSha256),
        });
        PbClient client = await PbClient.ConnectWebSocketAsync(new Uri($"{_webSocket}?access_token={token}"), cancellationToken: Ct);
        return (client, await (await client.GetRootObjectAsync(Ct)).LoginAuthenticatedAsync(cancellationToken: Ct));
    }

    [Fact]
    public async Task Methods_not_marked_remote_are_no_such_method_and_the_connection_stays()
    {
        (PbClient client, RemoteReference avatar) = await LogInAsync("alice");
        await using (client)
        using (avatar)
        {
            foreach (string name in new[] { "Secret", "secret", "Shutdown", "shutdown", "ToString", "GetType", "GetHashCode", "Equals", "remote_whoami", "__init__", "" })
            {
                var e = await Assert.ThrowsAsync<RemoteException>(() => avatar.CallRemoteAsync(name));
                Assert.Equal("twisted.spread.flavors.NoSuchMethod", e.RemoteType);
            }
            Assert.Equal("alice", await avatar.CallRemoteAsync<string>("whoami"));
        }
    }

    [Fact]
    public async Task Another_users_avatar_id_reaches_nothing_of_theirs()
    {
        (PbClient aliceClient, RemoteReference alice) = await LogInAsync("alice");
        (PbClient bobClient, RemoteReference bob) = await LogInAsync("bob");
        await using (aliceClient)
        await using (bobClient)
        using (alice)
        using (bob)
        {
            // Bob's avatar id, used on alice's connection, names her own objects there (or nothing), never bob's.
            RemoteReference sameNumber = Forge(aliceClient, bob.Luid);
            Assert.Equal("alice", await sameNumber.CallRemoteAsync<string>("whoami"));
            foreach (long forged in new[] { alice.Luid + 1, alice.Luid + 1000, -1 })
            {
                var e = await Assert.ThrowsAsync<RemoteException>(() => Forge(aliceClient, forged).CallRemoteAsync("whoami"));
                Assert.Equal(("twisted.spread.pb.Error", "Invalid Object ID"), (e.RemoteType, e.Message));
            }
            Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoami"));
            Assert.Equal("bob", await bob.CallRemoteAsync<string>("whoami"));
        }
    }

    private static RemoteReference Forge(PbClient client, long luid)
    {
        var reference = new RemoteReference(client.Connection.Broker, luid, isRoot: false);
#pragma warning disable CA1816 // a forged test reference must never send decref, not even from its finalizer
        GC.SuppressFinalize(reference);
#pragma warning restore CA1816
        return reference;
    }
}
