using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pb.Cred;

namespace WebDemo;

public sealed record LoginRequest(string Username, string Password);

/// <summary>The demo's users, held in memory: alice and bob in Development, only configured ones elsewhere.</summary>
public sealed class DemoUsers
{
    private readonly Dictionary<string, string> _passwords;

    private DemoUsers(Dictionary<string, string> passwords)
    {
        _passwords = passwords;
        Checker = new InMemoryPasswordChecker(passwords);
    }

    /// <summary>The same users for PB's password login (Twisted clients on TCP).</summary>
    public ICredentialsChecker Checker { get; }

    /// <summary>The user names, for the start-up line (never the passwords).</summary>
    public string NameList => string.Join(", ", _passwords.Keys.Order(StringComparer.Ordinal));

    /// <summary>
    /// Users from <c>Demo:Users</c> (name = password). When there are none, Development gets alice/wonderland and
    /// bob/builder; any other environment gets nobody (no default password ever reaches production).
    /// </summary>
    public static DemoUsers FromConfiguration(IConfiguration configuration, IHostEnvironment environment)
    {
        var users = configuration.GetSection("Demo:Users").GetChildren()
            .Where(c => !string.IsNullOrEmpty(c.Value))
            .ToDictionary(c => c.Key, c => c.Value!, StringComparer.Ordinal);
        if (users.Count == 0 && environment.IsDevelopment())
        {
            users["alice"] = "wonderland";
            users["bob"] = "builder";
        }
        return new DemoUsers(users);
    }

    /// <summary>Checks a password in constant time (SHA-256 of both, compared with FixedTimeEquals), unknown users included.</summary>
    public bool Check(string? user, string? password)
    {
        string expected = user is not null && _passwords.TryGetValue(user, out string? p) ? p : "\0no such user";
        bool same = CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(expected)), SHA256.HashData(Encoding.UTF8.GetBytes(password ?? "")));
        return same && user is not null && _passwords.ContainsKey(user);
    }

    public static ClaimsPrincipal Principal(string user) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, user), new Claim(ClaimTypes.Name, user)], "Cookies"));

    public static string? NameOf(ClaimsPrincipal user) =>
        user.FindFirstValue(ClaimTypes.NameIdentifier) ?? user.FindFirstValue("sub");
}

/// <summary>JWTs for the demo's users, signed with <c>Demo:SigningKey</c>.</summary>
public static class DemoTokens
{
    public const string Issuer = "pbweb-demo";
    public const string Audience = "pbweb-demo";
    private const string DevelopmentKey = "pb-web-demo-development-signing-key-not-for-production";

    /// <summary>The configured key; in Development a fixed development key when none is configured.</summary>
    /// <exception cref="InvalidOperationException">Not Development and no key of at least 32 bytes configured.</exception>
    public static SymmetricSecurityKey SigningKey(IConfiguration configuration, IHostEnvironment environment)
    {
        string? key = configuration["Demo:SigningKey"];
        if (string.IsNullOrEmpty(key))
        {
            if (!environment.IsDevelopment())
            {
                throw new InvalidOperationException(
                    $"Demo:SigningKey is not set. The {environment.EnvironmentName} environment has no fallback signing key: set Demo:SigningKey " +
                    "(at least 32 bytes, e.g. the environment variable Demo__SigningKey) or run in Development (./build.sh demo).");
            }
            key = DevelopmentKey;
        }
        byte[] bytes = Encoding.UTF8.GetBytes(key);
        return bytes.Length >= 32
            ? new SymmetricSecurityKey(bytes)
            : throw new InvalidOperationException("Demo:SigningKey must be at least 32 bytes (HMAC-SHA256).");
    }

    public static string Create(string user, SecurityKey key, TimeSpan? lifetime = null) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = Issuer,
        Audience = Audience,
        Subject = new ClaimsIdentity([new Claim("sub", user)]),
        Expires = DateTime.UtcNow + (lifetime ?? TimeSpan.FromHours(1)),
        SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
    });
}

/// <summary>Kestrel listeners for the --urls addresses, when the PB port makes the demo configure Kestrel itself.</summary>
internal static class DemoListen
{
    public static void Http(KestrelServerOptions kestrel, Microsoft.AspNetCore.Http.BindingAddress address)
    {
        Action<ListenOptions> https = l =>
        {
            if (address.Scheme == "https")
            {
                l.UseHttps();
            }
        };
        bool localhost = string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase);
        if (address.Host is "*" or "+" or "0.0.0.0" or "[::]")
        {
            kestrel.ListenAnyIP(address.Port, https);
        }
        else if (localhost && address.Port != 0)
        {
            kestrel.ListenLocalhost(address.Port, https);
        }
        else
        {
            kestrel.Listen(localhost ? IPAddress.Loopback : IPAddress.Parse(address.Host.Trim('[', ']')), address.Port, https);
        }
    }
}

internal static partial class DemoLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Pb.Web demo: open {Address} in a browser (users: {Users}).")]
    public static partial void Started(ILogger logger, string address, string users);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "PB over TCP for Twisted clients on {EndPoint}.")]
    public static partial void TcpStarted(ILogger logger, System.Net.IPEndPoint endPoint);
}
