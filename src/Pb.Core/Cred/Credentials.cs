using System.Security.Cryptography;
using System.Text;

namespace Pb.Cred;

/// <summary>What a client presents to log in (Twisted's <c>twisted.cred.credentials</c>).</summary>
public interface ICredentials
{
}

/// <summary>
/// A username and a way to check a password against it without revealing it (Twisted's
/// <c>IUsernameHashedPassword</c> and <c>IUsernameMD5Password</c>). PB's challenge-response login presents
/// credentials of this kind: the server never sees the password, only proof that the client knows it.
/// </summary>
public interface IUsernamePassword : ICredentials
{
    /// <summary>The username.</summary>
    string Username { get; }

    /// <summary>True when <paramref name="password"/> is the password (compared in constant time).</summary>
    bool CheckPassword(string password);

    /// <summary>True when <paramref name="md5OfPassword"/> is MD5 of the password's UTF-8 bytes (constant time).</summary>
    bool CheckMd5Password(ReadOnlySpan<byte> md5OfPassword);
}

/// <summary>A username and its password: what a client logs in with, and usable directly with a <see cref="Portal"/>.</summary>
public sealed class UsernamePassword : IUsernamePassword
{
    /// <summary>Creates the credentials.</summary>
    public UsernamePassword(string username, string password)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        Username = username;
        Password = password;
    }

    /// <inheritdoc/>
    public string Username { get; }

    /// <summary>The password.</summary>
    public string Password { get; }

    /// <inheritdoc/>
    public bool CheckPassword(string password) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(Password), Encoding.UTF8.GetBytes(password));

    /// <inheritdoc/>
    public bool CheckMd5Password(ReadOnlySpan<byte> md5OfPassword) =>
        CryptographicOperations.FixedTimeEquals(PbChallenge.Md5(Password), md5OfPassword);

    /// <summary>The username only: the password never appears in logs.</summary>
    public override string ToString() => $"UsernamePassword({Username})";
}

/// <summary>No identity at all (Twisted's <c>Anonymous</c>); accepted only by a portal with <see cref="AllowAnonymousAccess"/>.</summary>
public sealed class AnonymousCredentials : ICredentials
{
    /// <summary>The one instance.</summary>
    public static AnonymousCredentials Instance { get; } = new();

    private AnonymousCredentials() { }
}

/// <summary>
/// PB's challenge-response: the server sends 16 random bytes, the client answers
/// <c>MD5(MD5(password) || challenge)</c> (both digests raw 16 bytes). MD5 is what the wire requires; nothing else
/// here uses it.
/// </summary>
public static class PbChallenge
{
    /// <summary>16 bytes from <see cref="RandomNumberGenerator"/>.</summary>
    public static byte[] NewChallenge() => RandomNumberGenerator.GetBytes(16);

    /// <summary>The client's response to <paramref name="challenge"/> for <paramref name="password"/>.</summary>
    public static byte[] Respond(ReadOnlySpan<byte> challenge, string password) => RespondFromMd5(challenge, Md5(password));

    /// <summary>The response computed from MD5 of the password (what a server holding only digests can compute).</summary>
    public static byte[] RespondFromMd5(ReadOnlySpan<byte> challenge, ReadOnlySpan<byte> md5OfPassword)
    {
        Span<byte> buffer = stackalloc byte[16 + 64];
        md5OfPassword.CopyTo(buffer);
        int length = 16 + Math.Min(challenge.Length, 64);
        challenge[..(length - 16)].CopyTo(buffer[16..]);
#pragma warning disable CA5351 // MD5 is required by the PB wire protocol (PB-WIRE.md 4.2)
        return MD5.HashData(buffer[..length]);
    }

    /// <summary>MD5 of the password's UTF-8 bytes.</summary>
    public static byte[] Md5(string password) => MD5.HashData(Encoding.UTF8.GetBytes(password));
#pragma warning restore CA5351
}
