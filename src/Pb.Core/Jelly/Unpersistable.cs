namespace Pb.Jelly;

/// <summary>
/// A placeholder for a value the sender could not serialize (<c>["unpersistable", reason]</c>), or a
/// <c>["persistent", ...]</c> reference, which a broker cannot resolve. Twisted builds the same placeholder.
/// </summary>
public sealed class Unpersistable : IEquatable<Unpersistable>
{
    /// <summary>Creates a placeholder.</summary>
    public Unpersistable(string reason) => Reason = reason;

    /// <summary>Why the value could not be sent, as the sender said it.</summary>
    public string Reason { get; }

    /// <inheritdoc/>
    public bool Equals(Unpersistable? other) => other is not null && other.Reason == Reason;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Unpersistable u && Equals(u);

    /// <inheritdoc/>
    public override int GetHashCode() => Reason.GetHashCode(StringComparison.Ordinal);

    /// <inheritdoc/>
    public override string ToString() => $"Unpersistable({Reason})";
}
