using System.Security.Claims;

namespace Pb.Cred;

/// <summary>
/// An identity the host already authenticated (a JWT, a cookie, any ASP.NET Core scheme) presented to the portal,
/// so the user gets an avatar without PB's password login.
/// </summary>
public sealed class ClaimsCredentials : ICredentials
{
    /// <summary>Creates the credentials.</summary>
    public ClaimsCredentials(ClaimsPrincipal principal) => Principal = principal ?? throw new ArgumentNullException(nameof(principal));

    /// <summary>The authenticated user.</summary>
    public ClaimsPrincipal Principal { get; }
}

/// <summary>
/// Maps an authenticated <see cref="ClaimsPrincipal"/> to an avatar id: the value of one claim,
/// <see cref="ClaimTypes.NameIdentifier"/> by default (the JWT <c>sub</c> as ASP.NET Core maps it).
/// </summary>
public sealed class ClaimsIdentityChecker : ICredentialsChecker
{
    private readonly string[] _claimTypes;

    /// <summary>Creates the checker; the first of <paramref name="claimTypes"/> present names the avatar.</summary>
    public ClaimsIdentityChecker(params string[] claimTypes) =>
        _claimTypes = claimTypes is { Length: > 0 } ? claimTypes : [ClaimTypes.NameIdentifier, "sub"];

    /// <inheritdoc/>
    public bool CanCheck(ICredentials credentials) => credentials is ClaimsCredentials;

    /// <inheritdoc/>
    public ValueTask<string> RequestAvatarIdAsync(ICredentials credentials, CancellationToken cancellationToken)
    {
        ClaimsPrincipal principal = ((ClaimsCredentials)credentials).Principal;
        if (principal.Identity?.IsAuthenticated == true)
        {
            foreach (string type in _claimTypes)
            {
                if (principal.FindFirst(type)?.Value is { Length: > 0 } id)
                {
                    return ValueTask.FromResult(id);
                }
            }
        }
        throw new UnauthorizedLoginException();
    }
}

/// <summary>When a claims identity stops being valid.</summary>
/// <summary>When a token-carried identity expires.</summary>
public static class TokenExpiry
{
    /// <summary>The <c>exp</c> claim (seconds since 1970, as JWTs carry it) of <paramref name="user"/>, or null.</summary>
    public static DateTimeOffset? Of(System.Security.Claims.ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        if (user.FindFirst("exp")?.Value is not { } exp
            || !long.TryParse(exp, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long seconds)
            || seconds < DateTimeOffset.MinValue.ToUnixTimeSeconds() || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return null;
        }
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }
}
