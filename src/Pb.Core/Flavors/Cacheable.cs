using Pb.Jelly;

namespace Pb;

/// <summary>
/// Lets a <see cref="Cacheable"/> push updates to one peer's copy of it (Twisted's <c>RemoteCacheObserver</c>):
/// each call runs the named <see cref="RemoteAttribute"/> method of the peer's <see cref="RemoteCache"/>.
/// </summary>
public interface IRemoteCacheObserver
{
    /// <summary>The perspective (avatar) the cache was sent for, or null.</summary>
    object? Perspective { get; }

    /// <summary>Calls <paramref name="method"/> on the peer's cache and waits for its answer.</summary>
    Task<object?> CallRemoteAsync(string method, params object?[] args);

    /// <summary>Calls <paramref name="method"/> on the peer's cache without asking for an answer.</summary>
    void CallRemoteOneWay(string method, params object?[] args);
}

/// <summary>
/// An object whose state the peer caches and this side keeps up to date (Twisted's <c>pb.Cacheable</c>). Register its
/// tag with <see cref="JellyTypeRegistry.AddCacheable{T}(string)"/>; the peer registers its <see cref="RemoteCache"/>
/// type under the same tag. The first send carries the state, later sends only the cache id.
/// </summary>
public abstract class Cacheable
{
    /// <summary>The state to send to <paramref name="perspective"/>; keep <paramref name="observer"/> to push updates.</summary>
    public abstract object? GetStateToCacheAndObserveFor(object? perspective, IRemoteCacheObserver observer);

    /// <summary>The peer released its copy, or disconnected: stop using <paramref name="observer"/>.</summary>
    public virtual void StoppedObserving(object? perspective, IRemoteCacheObserver observer)
    {
    }
}

/// <summary>
/// The peer's copy of a <see cref="Cacheable"/> (Twisted's <c>pb.RemoteCache</c>). Register the type under the
/// owner's tag with <see cref="JellyTypeRegistry.Add{T}(string)"/>. The owner's observer calls its
/// <see cref="RemoteAttribute"/> methods (Twisted's <c>observe_</c> methods). Dispose it to tell the owner the copy is
/// no longer used.
/// </summary>
public abstract class RemoteCache : ICopyableFlavor, IDisposable
{
    internal ICacheHolder? Holder { get; set; }

    internal long CacheId { get; set; }

    /// <summary>Takes the state the owner sent. By default sets the matching public properties and fields.</summary>
    public virtual void SetCopyableState(object? state) => MemberMap.For(GetType()).SetState(this, state);

    string? ICopyableFlavor.GetTypeToCopyFor(object? perspective) => null;

    object? ICopyableFlavor.GetStateToCopyFor(object? perspective) =>
        throw new JellyException("A RemoteCache goes back to its owner as a reference, not as a copy.");

    /// <summary>Releases this copy: the owner is told once for every time it was received.</summary>
    public void Dispose()
    {
        Holder?.Release(this);
        GC.SuppressFinalize(this);
    }
}

/// <summary>The broker side of a held cache (keeps flavors free of the broker).</summary>
internal interface ICacheHolder
{
    void Release(RemoteCache cache);
}
