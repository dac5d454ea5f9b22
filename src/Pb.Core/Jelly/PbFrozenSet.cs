using System.Collections;

namespace Pb.Jelly;

/// <summary>
/// A Python frozenset: an immutable, hashable set (<c>["frozenset", ...]</c> on the wire), with
/// order-independent structural equality, so it can key a dictionary.
/// </summary>
public sealed class PbFrozenSet : IReadOnlySet<object?>, IEquatable<PbFrozenSet>
{
    private readonly HashSet<object?> _items;

    /// <summary>Creates a frozenset of <paramref name="items"/>.</summary>
    public PbFrozenSet(IEnumerable<object?> items) => _items = new HashSet<object?>(items, PbEqualityComparer.Instance);

    /// <summary>Creates a frozenset of <paramref name="items"/>.</summary>
    public PbFrozenSet(params object?[] items) : this((IEnumerable<object?>)items) { }

    private PbFrozenSet(HashSet<object?> items) => _items = items;

    internal static PbFrozenSet CreateUnfilled(out HashSet<object?> items)
    {
        items = new HashSet<object?>(PbEqualityComparer.Instance);
        return new PbFrozenSet(items);
    }

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public bool Contains(object? item) => _items.Contains(item);

    /// <inheritdoc/>
    public IEnumerator<object?> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    /// <inheritdoc/>
    public bool IsProperSubsetOf(IEnumerable<object?> other) => _items.IsProperSubsetOf(other);
    /// <inheritdoc/>
    public bool IsProperSupersetOf(IEnumerable<object?> other) => _items.IsProperSupersetOf(other);
    /// <inheritdoc/>
    public bool IsSubsetOf(IEnumerable<object?> other) => _items.IsSubsetOf(other);
    /// <inheritdoc/>
    public bool IsSupersetOf(IEnumerable<object?> other) => _items.IsSupersetOf(other);
    /// <inheritdoc/>
    public bool Overlaps(IEnumerable<object?> other) => _items.Overlaps(other);
    /// <inheritdoc/>
    public bool SetEquals(IEnumerable<object?> other) => _items.SetEquals(other);

    /// <inheritdoc/>
    public bool Equals(PbFrozenSet? other) => other is not null && (ReferenceEquals(this, other) || _items.SetEquals(other._items));

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PbFrozenSet f && Equals(f);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        // Order-independent: a sum of each element's (seeded) hash passed through a non-linear mix, as Python's
        // frozenset hash does, so that elements cannot cancel each other out as they would in a plain XOR; the
        // total goes through the seeded HashCode.
        uint sum = 0;
        foreach (object? item in _items)
        {
            uint h = (uint)PbEqualityComparer.Instance.GetHashCode(item);
            sum += ((h ^ 89869747u) ^ (h << 16)) * 3644798167u;
        }
        return HashCode.Combine(_items.Count, sum);
    }

    /// <summary>Python-like text: <c>frozenset({1, 2})</c>.</summary>
    public override string ToString() => "frozenset({" + string.Join(", ", _items.Select(PbValueFormatter.Format)) + "})";
}
