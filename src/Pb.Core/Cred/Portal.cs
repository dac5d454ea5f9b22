namespace Pb.Cred;

/// <summary>The login failed: unknown user or wrong password (Twisted's <c>UnauthorizedLogin</c>). The message says nothing more.</summary>
public sealed class UnauthorizedLoginException : PbException
{
    /// <summary>Creates the exception.</summary>
    public UnauthorizedLoginException() : base("")
    {
        RemoteTypeName = TwistedErrorType;
        // Twisted's MRO, so that trap(LoginFailed) and trap(Unauthorized) work on the Twisted side.
        RemoteBaseTypes = ["twisted.cred.error.LoginFailed", "twisted.cred.error.Unauthorized"];
    }

    /// <summary>Twisted's name for it.</summary>
    public new const string TwistedErrorType = "twisted.cred.error.UnauthorizedLogin";
}

/// <summary>No checker of the portal handles these credentials (Twisted's <c>UnhandledCredentials</c>).</summary>
public sealed class UnhandledCredentialsException : PbException
{
    /// <summary>Creates the exception.</summary>
    public UnhandledCredentialsException(string message) : base(message)
    {
        RemoteTypeName = "twisted.cred.error.UnhandledCredentials";
        RemoteBaseTypes = ["twisted.cred.error.LoginFailed"];
    }
}

/// <summary>Checks one kind of credentials and names the avatar they log in as (Twisted's <c>ICredentialsChecker</c>).</summary>
public interface ICredentialsChecker
{
    /// <summary>True when this checker handles <paramref name="credentials"/>.</summary>
    bool CanCheck(ICredentials credentials);

    /// <summary>The avatar id for <paramref name="credentials"/>.</summary>
    /// <exception cref="UnauthorizedLoginException">The credentials are wrong.</exception>
    ValueTask<string> RequestAvatarIdAsync(ICredentials credentials, CancellationToken cancellationToken);
}

/// <summary>What a realm hands back for a login: the avatar, and what to run when the session ends.</summary>
/// <param name="Avatar">The user's object; the client gets a reference to it and nothing else.</param>
/// <param name="Logout">Runs exactly once: when the client releases its last reference to the avatar or disconnects.</param>
public sealed record AvatarLogin(Referenceable Avatar, Action? Logout = null)
{
    /// <summary>The avatar id the credentials checker answered; <see cref="Portal.LoginAsync"/> sets it.</summary>
    public string? AvatarId { get; init; }
}

/// <summary>Makes avatars for logged-in users (Twisted's <c>IRealm</c>).</summary>
public interface IRealm
{
    /// <summary>
    /// The avatar for <paramref name="avatarId"/> (<see cref="Portal.AnonymousAvatarId"/> for anonymous logins).
    /// <paramref name="mind"/> is what the client passed at login: usually a <see cref="RemoteReference"/> to a client
    /// object the avatar can call, or null.
    /// </summary>
    ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken);
}

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
