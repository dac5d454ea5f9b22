namespace Pb.Banana;

/// <summary>
/// Every receive-side (and the matching send-side) limit of the banana codec in one place. Each default
/// says which threat it guards against. Instances are immutable once handed to a reader or parser, so
/// one instance can be shared by every connection.
/// </summary>
public sealed class BananaLimits
{
    /// <summary>Twisted's <c>SIZE_LIMIT</c>: 640 KiB.</summary>
    public const int TwistedSizeLimit = 640 * 1024;

    /// <summary>Twisted's prefix limit: a header may have at most 64 bytes (so integers stay below 2**448).</summary>
    public const int HeaderLimit = 64;

    /// <summary>The defaults, shared.</summary>
    public static BananaLimits Default { get; } = new();

    private readonly int _maxItemLength = TwistedSizeLimit;
    private readonly int _maxDepth = 512;
    private readonly long _maxMessageSize = 16 * 1024 * 1024;

    /// <summary>
    /// Largest byte string length and largest list element count, per item. Default 655360 (640 KiB), the
    /// same as Twisted's <c>SIZE_LIMIT</c>, checked as soon as the header arrives, before any payload.
    /// Threat: one header that makes the receiver reserve gigabytes.
    /// </summary>
    public int MaxItemLength
    {
        get => _maxItemLength;
        init => _maxItemLength = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxItemLength), value, "Must be at least 1.");
    }

    /// <summary>
    /// Deepest list nesting accepted in one top-level expression. Default 512. Twisted has no such limit, but
    /// its recursive jelly code cannot build or read values nested more than a few hundred levels (Python's
    /// recursion limit is 1000), so no real PB message comes near it. Threat: a stream of <c>01 80</c> bytes
    /// that makes a recursive decoder overflow the stack.
    /// </summary>
    public int MaxDepth
    {
        get => _maxDepth;
        init => _maxDepth = value is >= 1 and <= 100_000 ? value : throw new ArgumentOutOfRangeException(nameof(MaxDepth), value, "Must be between 1 and 100000.");
    }

    /// <summary>
    /// Largest encoded size of one top-level expression, in bytes. Default 16 MiB. Twisted has no total limit
    /// (only the per-item one), so a peer could otherwise make us buffer without end by sending list items
    /// forever. Threat: unbounded memory per connection.
    /// </summary>
    public long MaxMessageSize
    {
        get => _maxMessageSize;
        init => _maxMessageSize = value >= 16 ? value : throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), value, "Must be at least 16.");
    }
}
