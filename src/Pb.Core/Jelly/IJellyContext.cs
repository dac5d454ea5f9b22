using Pb.Banana;

namespace Pb.Jelly;

/// <summary>
/// The seam through which jelly reaches a PB broker (PB-WIRE.md 3.5) without depending on it, for one outgoing
/// message: the broker writes the objects only it can name (Referenceables as <c>["remote", luid]</c>, references sent
/// home as <c>["local", luid]</c>, Cacheables); <see cref="IUnjellyContext"/> resolves those tags when they arrive.
/// </summary>
internal interface IJellyContext
{
    /// <summary>The avatar on whose behalf values are serialized (Twisted's "perspective"), or null.</summary>
    object? Perspective { get; }

    /// <summary>Writes <paramref name="value"/> if it is a broker object; false when it is not one.</summary>
    bool TryWriteReference(object value, ref BananaWriter writer);

    /// <summary>True when <paramref name="value"/> is one the broker writes (checked once per type in the first pass).</summary>
    bool IsReference(object value);

    /// <summary>
    /// For a Cacheable: how it goes out in this message (first time: its id, tag and state; after: <c>cached</c>).
    /// Null when <paramref name="value"/> is not a Cacheable. Called once per object per message.
    /// </summary>
    CacheForm? PrepareCache(object value);

    /// <summary>
    /// In the second pass, under the write lock: <paramref name="form"/>, a first send prepared by
    /// <see cref="PrepareCache"/>, is committed and returned, unless another message sent the same Cacheable first: then
    /// the <c>cached</c> form to write instead.
    /// </summary>
    CacheForm CommitCache(CacheForm form);

}

/// <summary>The receiving half of the seam: the broker resolves the tags only it can name.</summary>
internal interface IUnjellyContext
{
    /// <summary>Builds the value of a PB tag (<c>remote</c>, <c>local</c>, <c>cached</c>, <c>lcache</c>) with its id.</summary>
    object? Resolve(JellyTag tag, long id);

    /// <summary>A <c>[tag, id, state]</c> arrived: the blank cache object of the registered type, now held under <paramref name="id"/>.</summary>
    object ReceiveCache(long id, CopyableType type);
}

/// <summary>How a Cacheable is written in one message (PB-WIRE.md 3.5).</summary>
internal sealed record CacheForm(long Id, bool IsNew, byte[] Tag, object? State)
{
    /// <summary>For a first send: what the broker commits (the Cacheable and its observer).</summary>
    public object? Pending { get; init; }
}
