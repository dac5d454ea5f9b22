using System.Security.Claims;

namespace Pb;

/// <summary>One avatar handed out on a connection by a login.</summary>
/// <param name="Connection">The connection the avatar lives on.</param>
/// <param name="AvatarId">The id the credentials checker answered (<see cref="Cred.Portal.AnonymousAvatarId"/> for anonymous logins).</param>
/// <param name="Avatar">The avatar the client holds.</param>
/// <param name="Mind">What the client passed at login (usually a <see cref="RemoteReference"/> to its own object), or null.</param>
/// <param name="User">The logged-in user: the token's or cookie's principal, or one named <paramref name="AvatarId"/> for a password login.</param>
public sealed record PbLogin(IPbConnection Connection, string AvatarId, object Avatar, object? Mind, ClaimsPrincipal User);
