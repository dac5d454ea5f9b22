namespace Pb.Cred;

/// <summary>Publishes a <see cref="Portal"/> over PB (the glue between Cred and Transport; it lives in Transport so Cred never takes a PbConnection).</summary>
public static class PortalServer
{
    /// <summary>
    /// The root factory for <see cref="PbServer"/>: each connection gets Twisted's portal root, which offers
    /// <c>login(username)</c> (answering a challenge and a challenger whose <c>respond(response, mind)</c> answers the
    /// avatar) and <c>loginAnonymous(mind)</c>.
    /// </summary>
    public static Func<PbConnection, Referenceable> RootFactory(Portal portal, PortalOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(portal);
        PortalOptions settings = options ?? new PortalOptions();
        return connection => new PortalRoot(portal, connection.Broker, settings);
    }
}
