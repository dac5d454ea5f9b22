// The server the TypeScript client's tests run against, as SignalR's clients/ts/FunctionalTests has its own app.
//   --Root=interop  the contract of tests/Pb.Interop.Tests/python/pb_interop_server.py (tests/Shared/InteropContract.cs),
//                   so the same vitest scenario runs against real Twisted and against this server
//   --Root=portal   (default) logins: passwords alice/secret and bob/hunter2, anonymous, JWTs from POST /token
// PB over WebSocket at /pb on Server:HttpPort, raw PB over TCP on Server:TcpPort, both on 127.0.0.1; static files from
// Server:StaticRoot when set (the browser test's page).
using System.Net;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pb;
using Pb.AspNetCore;
using Pb.Cred;
using Pb.Interop.Tests;
using Pb.Js.FunctionalServer;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var users = new Dictionary<string, string> { ["alice"] = "secret", ["bob"] = "hunter2" };
var signingKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes("pb-web-functional-tests-signing-key-0123456789"));
const string Issuer = "pb-functional";

builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
{
    o.TokenValidationParameters = new TokenValidationParameters { ValidIssuer = Issuer, ValidAudience = Issuer, IssuerSigningKey = signingKey };
    o.Events = new JwtBearerEvents { OnMessageReceived = PerspectiveBrokerJwt.ReadAccessTokenFromQuery };
});
builder.Services.AddAuthorization();

IPerspectiveBrokerBuilder pb = builder.Services.AddPerspectiveBroker(o => o.Broker = InteropContract.Options());
if (builder.Configuration["Root"] == "interop")
{
    // One room and one status for the whole server, so the client's "same object" checks mean something.
    var room = new InteropRoom();
    var status = new InteropStatus { Value = 5 };
    pb.UseRoot((_, connection) => new InteropRoot(connection, room, status));
}
else
{
    pb.UsePortal(_ => new Portal(new FunctionalRealm(), new ClaimsIdentityChecker(), new InMemoryPasswordChecker(users), new AllowAnonymousAccess()))
        .AddJwtTokenLogin();
}

builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, builder.Configuration.GetValue("Server:HttpPort", 5090));
    kestrel.Listen(IPAddress.Loopback, builder.Configuration.GetValue("Server:TcpPort", 5091), listen => listen.UsePerspectiveBroker());
});

WebApplication app = builder.Build();
// The browser test's page and the client bundle, from a folder the test fills (Server:StaticRoot), same origin as /pb.
if (builder.Configuration["Server:StaticRoot"] is string staticRoot)
{
    app.UseStaticFiles(new StaticFileOptions { FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(staticRoot) });
}
app.UseAuthentication();
app.UseAuthorization();
app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
app.MapPost("/token", (TokenRequest request) =>
    users.TryGetValue(request.Username, out string? password) && password == request.Password
        ? Results.Ok(new
        {
            token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = Issuer,
                Audience = Issuer,
                Subject = new ClaimsIdentity([new Claim("sub", request.Username)]),
                Expires = DateTime.UtcNow.AddHours(1),
                SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.HmacSha256),
            }),
        })
        : Results.Unauthorized());
app.MapPerspectiveBroker("/pb");
app.Run();

namespace Pb.Js.FunctionalServer
{
    internal sealed record TokenRequest(string Username, string Password);

    internal sealed class FunctionalRealm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new FunctionalAvatar(avatarId.Length == 0 ? "anonymous" : avatarId, mind as RemoteReference)));
    }

    /// <summary>What a logged-in test user can do: say who they are, and call the mind they logged in with.</summary>
    internal sealed class FunctionalAvatar(string name, RemoteReference? mind) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        // notify_mind(text): the mind's notify(text), answered with the mind's answer (or "no mind").
        [Remote("notify_mind")] public Task<object?> NotifyMind(string text) =>
            mind is null ? Task.FromResult<object?>("no mind") : mind.CallRemoteAsync("notify", text);
    }
}
