using System.Text;
using Pb.Jelly;

namespace Pb.Cred;

/// <summary>The client side of PB login (Twisted's <c>PBClientFactory.login</c>).</summary>
public static class LoginExtensions
{
    /// <summary>
    /// Logs in with a username and password through the server's portal root and answers the avatar. The password
    /// never travels: the client answers the server's challenge with <c>MD5(MD5(password) || challenge)</c>.
    /// <paramref name="mind"/> is an object of ours the server's avatar may call.
    /// </summary>
    /// <exception cref="RemoteException">The login failed (<c>twisted.cred.error.UnauthorizedLogin</c>).</exception>
    public static async Task<RemoteReference> LoginAsync(this RemoteReference root, UsernamePassword credentials, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(credentials);
        // Usernames travel as bytes, as Twisted's clients send them (its in-memory checker keys are bytes).
        PbTuple answer = await root.CallRemoteAsync<PbTuple>("login", [Encoding.UTF8.GetBytes(credentials.Username)], null, cancellationToken).ConfigureAwait(false);
        if (answer.Count != 2 || answer[0] is not byte[] challenge || answer[1] is not RemoteReference challenger)
        {
            throw new PbProtocolException("login answered something other than (challenge, challenger).");
        }
        using (challenger)
        {
            byte[] response = PbChallenge.Respond(challenge, credentials.Password);
            return await challenger.CallRemoteAsync<RemoteReference>("respond", [response, mind], null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Logs in anonymously and answers the avatar.</summary>
    public static Task<RemoteReference> LoginAnonymousAsync(this RemoteReference root, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        return root.CallRemoteAsync<RemoteReference>("loginAnonymous", [mind], null, cancellationToken);
    }

    /// <summary>Logs in as the user the transport authenticated (a JWT or cookie on the WebSocket upgrade).</summary>
    public static Task<RemoteReference> LoginAuthenticatedAsync(this RemoteReference root, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        return root.CallRemoteAsync<RemoteReference>("loginAuthenticated", [mind], null, cancellationToken);
    }

    /// <summary>Logs in with a bearer token (a JWT the HTTP side accepts), on any transport.</summary>
    public static Task<RemoteReference> LoginTokenAsync(this RemoteReference root, string token, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(token);
        return root.CallRemoteAsync<RemoteReference>("loginToken", [token, mind], null, cancellationToken);
    }

    /// <summary>
    /// Logs in with a username and password (see <see cref="LoginAsync(RemoteReference, UsernamePassword, Referenceable?, CancellationToken)"/>);
    /// after an automatic reconnect the client logs in again with the same credentials and mind.
    /// </summary>
    public static Task<RemoteReference> LoginAsync(this PbClient client, UsernamePassword credentials, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(credentials);
        return client.LoginAsync((root, ct) => root.LoginAsync(credentials, mind, ct), cancellationToken);
    }

    /// <summary>Logs in anonymously; after an automatic reconnect the client does so again with the same mind.</summary>
    public static Task<RemoteReference> LoginAnonymousAsync(this PbClient client, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.LoginAsync((root, ct) => root.LoginAnonymousAsync(mind, ct), cancellationToken);
    }

    /// <summary>
    /// Logs in as the user the transport authenticated (<see cref="PbClientOptions.AccessTokenProvider"/>'s token or a
    /// cookie on the WebSocket upgrade); after an automatic reconnect the client does so again on the new connection.
    /// </summary>
    public static Task<RemoteReference> LoginAuthenticatedAsync(this PbClient client, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.LoginAsync((root, ct) => root.LoginAuthenticatedAsync(mind, ct), cancellationToken);
    }

    /// <summary>Logs in with a bearer token on any transport; after an automatic reconnect the client sends the same token again.</summary>
    public static Task<RemoteReference> LoginTokenAsync(this PbClient client, string token, Referenceable? mind = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(token);
        return client.LoginAsync((root, ct) => root.LoginTokenAsync(token, mind, ct), cancellationToken);
    }
}
