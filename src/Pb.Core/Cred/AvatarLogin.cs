namespace Pb.Cred;

/// <summary>What a realm hands back for a login: the avatar, and what to run when the session ends.</summary>
/// <param name="Avatar">The user's object; the client gets a reference to it and nothing else.</param>
/// <param name="Logout">Runs exactly once: when the client releases its last reference to the avatar or disconnects.</param>
public sealed record AvatarLogin(Referenceable Avatar, Action? Logout = null)
{
    /// <summary>The avatar id the credentials checker answered; <see cref="Portal.LoginAsync"/> sets it.</summary>
    public string? AvatarId { get; init; }
}
