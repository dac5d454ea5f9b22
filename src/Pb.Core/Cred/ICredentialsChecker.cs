namespace Pb.Cred;

/// <summary>Checks one kind of credentials and names the avatar they log in as (Twisted's <c>ICredentialsChecker</c>).</summary>
public interface ICredentialsChecker
{
    /// <summary>True when this checker handles <paramref name="credentials"/>.</summary>
    bool CanCheck(ICredentials credentials);

    /// <summary>The avatar id for <paramref name="credentials"/>.</summary>
    /// <exception cref="UnauthorizedLoginException">The credentials are wrong.</exception>
    ValueTask<string> RequestAvatarIdAsync(ICredentials credentials, CancellationToken cancellationToken);
}
