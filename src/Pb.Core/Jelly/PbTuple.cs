using System.Collections;
using System.Text;

namespace Pb.Jelly;

/// <summary>
/// A Python tuple: an immutable sequence, distinct from a list on the wire (<c>["tuple", ...]</c> versus
/// <c>["list", ...]</c>), with structural equality so it can key a dictionary or sit in a set.
/// </summary>
public sealed class PbTuple : IReadOnlyList<object?>, IEquatable<PbTuple>
{
    private readonly object?[] _items;

    /// <summary>The empty tuple.</summary>
    public static PbTuple Empty { get; } = new(Array.Empty<object?>(), copy: false);

    /// <summary>Creates a tuple of <paramref name="items"/> (copied).</summary>
    public PbTuple(params object?[] items) : this(items, copy: true) { }

    /// <summary>Creates a tuple of <paramref name="items"/> (copied).</summary>
    public PbTuple(IEnumerable<object?> items) : this(items.ToArray(), copy: false) { }

    internal PbTuple(object?[] items, bool copy) => _items = copy ? (object?[])items.Clone() : items;

    /// <summary>Builds a tuple whose slots are filled later (by the unjellier, before anyone else sees it).</summary>
    internal static PbTuple CreateUnfilled(int count, out object?[] slots)
    {
        slots = count == 0 ? Array.Empty<object?>() : new object?[count];
        return new PbTuple(slots, copy: false);
    }

    /// <inheritdoc/>
    public int Count => _items.Length;

    /// <inheritdoc/>
    public object? this[int index] => _items[index];

    internal ReadOnlySpan<object?> AsSpan() => _items;

    /// <inheritdoc/>
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(PbTuple? other)
    {
        if (other is null || other._items.Length != _items.Length)
        {
            return false;
        }
        if (ReferenceEquals(this, other))
        {
            return true;
        }
        for (int i = 0; i < _items.Length; i++)
        {
            if (!PbEqualityComparer.Instance.Equals(_items[i], other._items[i]))
            {
                return false;
            }
        }
        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PbTuple t && Equals(t);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (object? item in _items)
        {
            hash.Add(PbEqualityComparer.Instance.GetHashCode(item));
        }
        return hash.ToHashCode();
    }

    /// <summary>Python-like text, for messages and debugging: <c>(1, 'a')</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < _items.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }
            sb.Append(PbValueFormatter.Format(_items[i]));
        }
        return sb.Append(_items.Length == 1 ? ",)" : ")").ToString();
    }
}
