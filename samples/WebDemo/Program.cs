// The Pb.Web demo, "live rooms": people sign in with ASP.NET (a cookie, or a JWT from /token), the page opens PB over a
// WebSocket with that identity (loginAuthenticated, no password over PB) and observes rooms that update live in every
// browser; Twisted clients log in with a password over raw TCP and post into the same rooms.
using System.Net;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.IdentityModel.Tokens;
using Pb.AspNetCore;
using Pb.Cred;
using WebDemo;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);
// Development defaults (./build.sh demo and dotnet run set Development): the demo users and a signing key. Anywhere
// else both must come from configuration, and a missing key stops the app here with the reason.
DemoUsers users;
SymmetricSecurityKey signingKey;
try
{
    users = DemoUsers.FromConfiguration(builder.Configuration, builder.Environment);
    signingKey = DemoTokens.SigningKey(builder.Configuration, builder.Environment);
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"WebDemo cannot start: {e.Message}");
    return 1;
}

// Two ways in: a JWT (Authorization header, or ?access_token= on the WebSocket) or the cookie POST /login sets.
builder.Services.AddAuthentication("JwtOrCookie")
    .AddPolicyScheme("JwtOrCookie", "JWT or cookie", o => o.ForwardDefaultSelector = context =>
        context.Request.Headers.Authorization.Count > 0 || context.Request.Query.ContainsKey("access_token")
            ? JwtBearerDefaults.AuthenticationScheme
            : CookieAuthenticationDefaults.AuthenticationScheme)
    .AddCookie(o =>
    {
        o.Cookie.Name = "pbweb-demo";
        o.Cookie.SameSite = SameSiteMode.Strict;
        o.Cookie.HttpOnly = true;
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
builder.Services.Configure<RoomOptions>(builder.Configuration.GetSection("Demo:Rooms"));
builder.Services.AddSingleton<RoomDirectory>();
// Rooms in this process by default; with --Redis=host:port (or Demo:Redis) they are shared by every demo node that
// uses the same Redis (docs/scale-out.md; ./build.sh demo-scaleout starts two nodes and a Redis).
string? redis = builder.Configuration["Redis"] ?? builder.Configuration["Demo:Redis"];
IPerspectiveBrokerBuilder pb = builder.Services.AddPerspectiveBroker(o =>
    {
        if (redis is null)
        {
            o.Broker.Jelly.Types.AddCacheable<Room>(Room.Tag);
        }
        else
        {
            o.Broker.Jelly.Types.AddCacheable<ReplicatedRoom>(Room.Tag);
        }
    })
    // Browsers log in with the identity of their upgrade request; Twisted clients with a password (or a JWT) on TCP.
    .UsePortal(sp => new Portal(new RoomsRealm(sp.GetRequiredService<RoomDirectory>(), sp.GetRequiredService<IPerspectiveBrokerContext>()),
        new ClaimsIdentityChecker(), users.Checker))
    .AddJwtTokenLogin()
    .AddMessagePackProtocol();
if (redis is not null)
{
    pb.AddRedis(redis, o => o.KeyPrefix = builder.Configuration["Demo:RedisPrefix"] ?? "webdemo");
}

// Raw PB over TCP beside HTTP (PerspectiveBroker:TcpPort, 8800 in appsettings.json): Kestrel then listens where
// --urls (or ASPNETCORE_URLS) says, plus the PB port, on loopback only.
ListenOptions? pbListener = null;
if (builder.Configuration.GetValue<int?>("PerspectiveBroker:TcpPort") is int tcpPort)
{
    string[] urls = (builder.Configuration["urls"] ?? "http://localhost:5080").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    builder.WebHost.ConfigureKestrel(kestrel =>
    {
        foreach (string url in urls)
        {
            DemoListen.Http(kestrel, BindingAddress.Parse(url));
        }
        kestrel.Listen(IPAddress.Loopback, tcpPort, listen => pbListener = listen.UsePerspectiveBroker());
    });
}

WebApplication app = builder.Build();
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseAuthentication();
app.UseAuthorization();
app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
// Who the cookie (or token) says this is; 401 when nobody signed in.
app.MapGet("/me", (HttpContext context) => context.User.Identity?.IsAuthenticated == true
    ? Results.Ok(new { name = DemoUsers.NameOf(context.User) })
    : Results.Unauthorized()).AllowAnonymous();
// A JWT for a demo user (POST username, password): for scripts and non-browser clients.
app.MapPost("/token", (LoginRequest login) => users.Check(login.Username, login.Password)
    ? Results.Ok(new { token = DemoTokens.Create(login.Username, signingKey) })
    : Results.Unauthorized());
// Cookie sign-in for browsers: the WebSocket upgrade then carries the cookie, and the endpoint's Origin check
// (PerspectiveBrokerOptions.AllowedOrigins, same origin by default) keeps other sites' pages out.
app.MapPost("/login", async (LoginRequest login, HttpContext context) =>
{
    if (!users.Check(login.Username, login.Password))
    {
        return Results.Unauthorized();
    }
    await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, DemoUsers.Principal(login.Username));
    return Results.NoContent();
});
app.MapPost("/logout", async (HttpContext context) =>
{
    await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
    return Results.NoContent();
});
// Only signed-in users reach PB over WebSockets (the upgrade is refused with 401 otherwise).
app.MapPerspectiveBroker("/pb").RequireAuthorization();

app.Lifetime.ApplicationStarted.Register(() =>
{
    ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("WebDemo");
    string web = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
        .FirstOrDefault(a => pbListener is null || !a.EndsWith($":{pbListener.IPEndPoint?.Port}", StringComparison.Ordinal)) ?? "(no HTTP address)";
    DemoLog.Started(logger, web, users.NameList);
    if (pbListener?.IPEndPoint is { } pb)
    {
        DemoLog.TcpStarted(logger, pb);
    }
});
app.Run();
return 0;

/// <summary>The demo's entry point, public for WebApplicationFactory.</summary>
public partial class Program
{
}
