namespace Pb.Jelly;

/// <summary>
/// What one serializer (one broker, one endpoint) accepts and how it sends. There is no process-wide
/// registry: each options instance carries its own allow-list of Copyable types in <see cref="Types"/>,
/// and unjelly accepts only the safe built-in types plus those.
/// </summary>
public sealed class JellyOptions
{
    /// <summary>Options with no registered types: only the safe built-in types are accepted.</summary>
    public static JellyOptions Default { get; } = new();

    /// <summary>The Copyable types this serializer sends and accepts. Default: none.</summary>
    public JellyTypeRegistry Types { get; init; } = new();

    /// <summary>
    /// What to send for an object of a type that is neither built in nor registered. Default false: throw
    /// <see cref="JellyException"/> naming the type, so the mistake shows at the sender. True does what a
    /// Twisted broker does: sends <c>["unpersistable", "instance of class X deemed insecure"]</c>, which the
    /// receiver gets as an <see cref="Unpersistable"/>. (A deliberate difference from Twisted; see docs/codec.md.)
    /// </summary>
    public bool SendUnregisteredAsUnpersistable { get; init; }
}
