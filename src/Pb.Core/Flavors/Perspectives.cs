namespace Pb;

/// <summary>
/// A user's object on the server (Twisted's <c>pb.Avatar</c>, the "perspective"): what login hands a client. Its
/// <see cref="RemoteAttribute"/> methods are the perspective methods; while one runs, this avatar is the perspective
/// for whatever it returns, so <see cref="Viewable"/>s it returns are bound to it.
/// </summary>
public abstract class Avatar : Referenceable
{
}

/// <summary>
/// An object that each caller sees through its own perspective (Twisted's <c>pb.Viewable</c>). It travels as a
/// reference bound to the avatar it was sent for; its <see cref="RemoteAttribute"/> methods receive that avatar
/// as their first parameter (null when the Viewable was not sent on behalf of an avatar), then the caller's
/// arguments: <c>[Remote] public string Say(ChatUser who, string text)</c>.
/// </summary>
public abstract class Viewable
{
}

/// <summary>A Viewable paired with the perspective it was sent for (Twisted's <c>ViewPoint</c>).</summary>
internal sealed class ViewPoint(Viewable viewable, object? perspective) : Referenceable
{
    public Viewable Viewable { get; } = viewable;

    public object? Perspective { get; } = perspective;
}
