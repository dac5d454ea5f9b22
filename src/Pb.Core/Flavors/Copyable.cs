using Pb.Jelly;

namespace Pb;

/// <summary>
/// An object sent by copy (Twisted's <c>pb.Copyable</c> and, on the receiving side, <c>pb.RemoteCopy</c>). Register
/// the type under its wire tag on <see cref="JellyOptions.Types"/> (for example <c>Add&lt;Point&gt;("myapp.Point")</c>);
/// the same class serves both directions. By default the state is the public read-write properties and fields in
/// camelCase; override the methods to send something else, or something different to each perspective.
/// </summary>
public abstract class Copyable : ICopyableFlavor
{
    /// <summary>The tag to send to <paramref name="perspective"/>; null (the default) sends the registered tag.</summary>
    public virtual string? GetTypeToCopyFor(object? perspective) => null;

    /// <summary>The state to send to <paramref name="perspective"/> (the avatar the value is sent for, or null).</summary>
    public virtual object? GetStateToCopyFor(object? perspective) => MemberMap.For(GetType()).GetState(this);

    /// <summary>Takes the state a peer sent (Twisted's <c>setCopyableState</c>).</summary>
    public virtual void SetCopyableState(object? state) => MemberMap.For(GetType()).SetState(this, state);
}
