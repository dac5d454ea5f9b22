using System.Collections.Frozen;

namespace Pb.Cred;

/// <summary>
/// Usernames and plain passwords held in memory: for development and tests only (Twisted's
/// <c>InMemoryUsernamePasswordDatabaseDontUse</c>). Use <see cref="HashedPasswordChecker"/> for real users.
/// </summary>
public sealed class InMemoryPasswordChecker : ICredentialsChecker
{
    private readonly FrozenDictionary<string, string> _users;

    /// <summary>Creates the checker from username/password pairs.</summary>
    public InMemoryPasswordChecker(IEnumerable<KeyValuePair<string, string>> users) =>
        _users = users.ToFrozenDictionary(StringComparer.Ordinal);

    /// <inheritdoc/>
    public bool CanCheck(ICredentials credentials) => credentials is IUsernamePassword;

    /// <inheritdoc/>
    public ValueTask<string> RequestAvatarIdAsync(ICredentials credentials, CancellationToken cancellationToken)
    {
        var user = (IUsernamePassword)credentials;
        // An unknown user costs the same work as a wrong password, so timing does not tell them apart.
        bool known = _users.TryGetValue(user.Username, out string? password);
        bool ok = user.CheckPassword(password ?? "\u0000 no such user \u0000");
        return known && ok ? ValueTask.FromResult(user.Username) : throw new UnauthorizedLoginException();
    }
}

/// <summary>
/// Checks passwords against a store of <c>MD5(password)</c> digests, the one form PB's challenge-response can be
/// checked against without the password itself (see docs/security.md for what that means for the store).
/// </summary>
public sealed class HashedPasswordChecker : ICredentialsChecker
{
    private static readonly byte[] s_decoy = new byte[16];
    private readonly Func<string, CancellationToken, ValueTask<byte[]?>> _lookup;

    /// <summary>
    /// Creates the checker. <paramref name="lookupMd5"/> returns the stored <see cref="PbChallenge.Md5"/> digest of a
    /// user's password, or null for an unknown user.
    /// </summary>
    public HashedPasswordChecker(Func<string, CancellationToken, ValueTask<byte[]?>> lookupMd5) =>
        _lookup = lookupMd5 ?? throw new ArgumentNullException(nameof(lookupMd5));

    /// <summary>The digest to store for <paramref name="password"/>.</summary>
    public static byte[] HashPassword(string password) => PbChallenge.Md5(password);

    /// <inheritdoc/>
    public bool CanCheck(ICredentials credentials) => credentials is IUsernamePassword;

    /// <inheritdoc/>
    public async ValueTask<string> RequestAvatarIdAsync(ICredentials credentials, CancellationToken cancellationToken)
    {
        var user = (IUsernamePassword)credentials;
        byte[]? digest = await _lookup(user.Username, cancellationToken).ConfigureAwait(false);
        bool ok = user.CheckMd5Password(digest ?? s_decoy);
        return digest is not null && ok ? user.Username : throw new UnauthorizedLoginException();
    }
}

/// <summary>Lets anonymous logins in, as <see cref="Portal.AnonymousAvatarId"/> (Twisted's <c>AllowAnonymousAccess</c>).</summary>
public sealed class AllowAnonymousAccess : ICredentialsChecker
{
    /// <inheritdoc/>
    public bool CanCheck(ICredentials credentials) => credentials is AnonymousCredentials;

    /// <inheritdoc/>
    public ValueTask<string> RequestAvatarIdAsync(ICredentials credentials, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Portal.AnonymousAvatarId);
}
