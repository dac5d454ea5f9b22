namespace Pb.Cred;

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
