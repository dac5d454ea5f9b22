namespace Pb;

/// <summary>
/// An object the peer can call (Twisted's <c>pb.Referenceable</c>). Sending one to the peer sends a reference
/// (<c>["remote", luid]</c>), never a copy; the peer calls its <see cref="RemoteAttribute"/> methods. The broker
/// keeps it alive while the peer holds references to it, and forgets it when the peer has released them all.
/// </summary>
public abstract class Referenceable
{
}

/// <summary>
/// The object a server publishes as <c>"root"</c>, which every client can call as soon as it connects
/// (Twisted's <c>pb.Root</c>).
/// </summary>
public abstract class Root : Referenceable
{
}
