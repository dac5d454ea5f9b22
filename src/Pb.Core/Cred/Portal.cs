namespace Pb.Cred;

/// <summary>
/// Checks credentials with the first checker that handles them, then asks the realm for the avatar (Twisted's
/// <c>Portal</c>).
/// </summary>
public sealed class Portal
{
    /// <summary>The avatar id of anonymous logins (Twisted uses the empty tuple).</summary>
    public const string AnonymousAvatarId = "";

    private readonly ICredentialsChecker[] _checkers;

    /// <summary>Creates a portal.</summary>
    public Portal(IRealm realm, params ICredentialsChecker[] checkers)
    {
        ArgumentNullException.ThrowIfNull(realm);
        ArgumentNullException.ThrowIfNull(checkers);
        Realm = realm;
        _checkers = checkers;
    }

    /// <summary>The realm.</summary>
    public IRealm Realm { get; }

    /// <summary>Logs <paramref name="credentials"/> in.</summary>
    /// <exception cref="UnauthorizedLoginException">Wrong credentials.</exception>
    /// <exception cref="UnhandledCredentialsException">No checker handles this kind of credentials.</exception>
    public async ValueTask<AvatarLogin> LoginAsync(ICredentials credentials, object? mind, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ICredentialsChecker checker = Array.Find(_checkers, c => c.CanCheck(credentials))
            ?? throw new UnhandledCredentialsException($"No checker for {(credentials is AnonymousCredentials ? "anonymous logins" : credentials.GetType().Name)}.");
        string avatarId = await checker.RequestAvatarIdAsync(credentials, cancellationToken).ConfigureAwait(false);
        AvatarLogin login = await Realm.RequestAvatarAsync(avatarId, mind, cancellationToken).ConfigureAwait(false);
        return login.AvatarId == avatarId ? login : login with { AvatarId = avatarId };
    }
}
