// The Pb.Web demo: PB over WebSockets at /pb (password, JWT, cookie or anonymous login; pb.banana or pb.msgpack) and raw PB over TCP for Twisted
// clients, in one ASP.NET Core app. Development defaults only: in-memory users, a development signing key.
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pb;
using Pb.AspNetCore;
using Pb.Cred;
using WebDemo;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
var users = new Dictionary<string, string> { ["alice"] = "secret", ["bob"] = "hunter2" };
var signingKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(
    builder.Configuration["Demo:SigningKey"] ?? "pb-web-demo-development-signing-key-not-for-production"));

// Two ways in: a JWT (Authorization header, or ?access_token= on the WebSocket) or the cookie POST /login sets.
// A policy scheme picks the JWT when one is presented and the cookie otherwise.
builder.Services.AddAuthentication("JwtOrCookie")
    .AddPolicyScheme("JwtOrCookie", "JWT or cookie", o => o.ForwardDefaultSelector = context =>
        context.Request.Headers.Authorization.Count > 0 || context.Request.Query.ContainsKey("access_token")
            ? JwtBearerDefaults.AuthenticationScheme
            : CookieAuthenticationDefaults.AuthenticationScheme)
    .AddCookie(o =>
    {
        o.Cookie.Name = "pbweb-demo";
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Events.OnRedirectToLogin = context =>
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        };
    })
    .AddJwtBearer(o =>
{
    o.TokenValidationParameters = new TokenValidationParameters
    {
        ValidIssuer = DemoTokens.Issuer,
        ValidAudience = DemoTokens.Audience,
        IssuerSigningKey = signingKey,
    };
    o.Events = new JwtBearerEvents { OnMessageReceived = PerspectiveBrokerJwt.ReadAccessTokenFromQuery };
});
builder.Services.AddAuthorization();
builder.Services.AddSingleton<Board>();
builder.Services.AddPerspectiveBroker()
    .UsePortal(sp => new Portal(new BoardRealm(sp.GetRequiredService<Board>()),
        new ClaimsIdentityChecker(), new InMemoryPasswordChecker(users), new AllowAnonymousAccess()))
    .AddJwtTokenLogin()
    .AddMessagePackProtocol();

// Raw PB over TCP beside HTTP when PerspectiveBroker:TcpPort is set (./build.sh demo sets it): Twisted clients connect there.
if (builder.Configuration.GetValue<int?>("PerspectiveBroker:TcpPort") is int tcpPort)
{
    int httpPort = builder.Configuration.GetValue("Demo:HttpPort", 5080);
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        kestrel.ListenLocalhost(httpPort);
        kestrel.ListenLocalhost(tcpPort, listen => listen.UsePerspectiveBroker());
    });
}

WebApplication app = builder.Build();
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseAuthentication();
app.UseAuthorization();
app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
// A development token endpoint: a JWT for an in-memory user (POST username, password).
app.MapPost("/token", (LoginRequest login) =>
    users.TryGetValue(login.Username, out string? password) && password == login.Password
        ? Results.Ok(new { token = DemoTokens.Create(login.Username, signingKey) })
        : Results.Unauthorized());
// Cookie sign-in for browsers: the WebSocket upgrade then carries the cookie, and the endpoint's Origin check
// (PerspectiveBrokerOptions.AllowedOrigins, same origin by default) keeps other sites' pages out.
app.MapPost("/login", async (LoginRequest login, HttpContext context) =>
{
    if (!users.TryGetValue(login.Username, out string? password) || password != login.Password)
    {
        return Results.Unauthorized();
    }
    var identity = new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, login.Username)], CookieAuthenticationDefaults.AuthenticationScheme);
    await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
    return Results.NoContent();
});
app.MapPost("/logout", async (HttpContext context) =>
{
    await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
    return Results.NoContent();
});
app.MapPerspectiveBroker("/pb");
app.Run();

/// <summary>The demo's entry point, public for WebApplicationFactory.</summary>
public partial class Program
{
}

namespace WebDemo
{
    public sealed record LoginRequest(string Username, string Password);

    /// <summary>Development JWTs for the demo's users.</summary>
    public static class DemoTokens
    {
        public const string Issuer = "pbweb-demo";
        public const string Audience = "pbweb-demo";

        public static string Create(string user, SecurityKey key, TimeSpan? lifetime = null) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Subject = new ClaimsIdentity([new Claim("sub", user)]),
            Expires = DateTime.UtcNow + (lifetime ?? TimeSpan.FromHours(1)),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A board every user shares: notes are seen by everybody, on WebSockets and TCP alike.</summary>
    public sealed class Board
    {
        private readonly List<string> _notes = [];

        public void Post(string note)
        {
            lock (_notes)
            {
                _notes.Add(note);
            }
        }

        public string[] Notes()
        {
            lock (_notes)
            {
                return [.. _notes];
            }
        }
    }

    public sealed class BoardRealm(Board board) : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new BoardUser(board, avatarId.Length == 0 ? "anonymous" : avatarId)));
    }

    /// <summary>What a logged-in user can do: say who they are, post and read notes.</summary>
    public sealed class BoardUser(Board board, string name) : Avatar
    {
        [Remote("whoami")] public string WhoAmI() => name;

        [Remote("post")] public void Post(string text) => board.Post($"{name}: {text}");

        [Remote("notes")] public string[] Notes() => board.Notes();
    }
}
