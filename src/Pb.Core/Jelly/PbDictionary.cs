using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Pb.Jelly;

/// <summary>
/// A Python dict: keys of any hashable jelly value (text, bytes, numbers, tuples, frozensets, None) compared
/// with <see cref="PbEqualityComparer"/>, entries kept in insertion order as Python keeps them. Unlike
/// <see cref="Dictionary{TKey, TValue}"/> it accepts a null (None) key.
/// </summary>
public sealed class PbDictionary : IDictionary<object?, object?>, IReadOnlyDictionary<object?, object?>
{
    // Dictionary<,> keeps insertion order as long as nothing is removed; Remove rebuilds to keep that promise.
    private Dictionary<object, object?> _entries;

    /// <summary>Creates an empty dictionary.</summary>
    public PbDictionary() => _entries = new Dictionary<object, object?>(KeyComparer.Instance);

    /// <summary>Creates an empty dictionary with room for <paramref name="capacity"/> entries.</summary>
    public PbDictionary(int capacity) => _entries = new Dictionary<object, object?>(capacity, KeyComparer.Instance);

    /// <summary>Creates a dictionary holding <paramref name="entries"/>.</summary>
    public PbDictionary(IEnumerable<KeyValuePair<object?, object?>> entries) : this()
    {
        foreach ((object? key, object? value) in entries)
        {
            this[key] = value;
        }
    }

    /// <inheritdoc cref="IDictionary{TKey, TValue}.this"/>
    public object? this[object? key]
    {
        get => _entries.TryGetValue(Wrap(key), out object? value) ? value : throw new KeyNotFoundException($"Key {PbValueFormatter.Format(key)} is not in the dictionary.");
        set => _entries[Wrap(key)] = value;
    }

    /// <inheritdoc/>
    public int Count => _entries.Count;

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public ICollection<object?> Keys => _entries.Keys.Select(Unwrap).ToList();

    /// <inheritdoc/>
    public ICollection<object?> Values => _entries.Values;

    IEnumerable<object?> IReadOnlyDictionary<object?, object?>.Keys => Keys;

    IEnumerable<object?> IReadOnlyDictionary<object?, object?>.Values => _entries.Values;

    /// <inheritdoc/>
    public void Add(object? key, object? value) => _entries.Add(Wrap(key), value);

    /// <summary>Sets an entry whose key the caller already checked for hashability (the unjellier's path).</summary>
    internal void SetUnchecked(object? key, object? value) => _entries[key ?? NoneKey.Instance] = value;

    /// <inheritdoc/>
    public void Add(KeyValuePair<object?, object?> item) => Add(item.Key, item.Value);

    /// <inheritdoc/>
    public void Clear() => _entries.Clear();

    /// <inheritdoc/>
    public bool Contains(KeyValuePair<object?, object?> item) =>
        _entries.TryGetValue(Wrap(item.Key), out object? value) && PbEqualityComparer.Instance.Equals(value, item.Value);

    /// <inheritdoc/>
    public bool ContainsKey(object? key) => _entries.ContainsKey(Wrap(key));

    /// <inheritdoc/>
    public void CopyTo(KeyValuePair<object?, object?>[] array, int arrayIndex)
    {
        foreach (KeyValuePair<object?, object?> entry in this)
        {
            array[arrayIndex++] = entry;
        }
    }

    /// <inheritdoc/>
    public bool Remove(object? key)
    {
        if (!_entries.ContainsKey(Wrap(key)))
        {
            return false;
        }
        var rebuilt = new Dictionary<object, object?>(_entries.Count, KeyComparer.Instance);
        object wrapped = Wrap(key);
        foreach (KeyValuePair<object, object?> entry in _entries)
        {
            if (!KeyComparer.Instance.Equals(entry.Key, wrapped))
            {
                rebuilt.Add(entry.Key, entry.Value);
            }
        }
        _entries = rebuilt;
        return true;
    }

    /// <inheritdoc/>
    public bool Remove(KeyValuePair<object?, object?> item) => Contains(item) && Remove(item.Key);

    /// <inheritdoc/>
    public bool TryGetValue(object? key, [MaybeNullWhen(false)] out object? value) => _entries.TryGetValue(Wrap(key), out value);

    /// <summary>Enumerates the entries in insertion order.</summary>
    public Enumerator GetEnumerator() => new(_entries.GetEnumerator());

    IEnumerator<KeyValuePair<object?, object?>> IEnumerable<KeyValuePair<object?, object?>>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Python-like text: <c>{'a': 1}</c>.</summary>
    public override string ToString() =>
        "{" + string.Join(", ", this.Select(e => PbValueFormatter.Format(e.Key) + ": " + PbValueFormatter.Format(e.Value))) + "}";

    /// <summary>An allocation-free enumerator over the entries.</summary>
    public struct Enumerator : IEnumerator<KeyValuePair<object?, object?>>
    {
        private Dictionary<object, object?>.Enumerator _inner;

        internal Enumerator(Dictionary<object, object?>.Enumerator inner) => _inner = inner;

        /// <inheritdoc/>
        public readonly KeyValuePair<object?, object?> Current
        {
            get
            {
                KeyValuePair<object, object?> c = _inner.Current;
                return new KeyValuePair<object?, object?>(Unwrap(c.Key), c.Value);
            }
        }

        readonly object IEnumerator.Current => Current;

        /// <inheritdoc/>
        public bool MoveNext() => _inner.MoveNext();

        /// <inheritdoc/>
        public void Dispose() => _inner.Dispose();

        void IEnumerator.Reset() => throw new NotSupportedException();
    }

    private static object Wrap(object? key)
    {
        if (key is null)
        {
            return NoneKey.Instance;
        }
        if (key is List<object?> or PbDictionary or HashSet<object?> or IDictionary)
        {
            throw new ArgumentException($"unhashable type: '{PbValueFormatter.PythonTypeName(key)}' cannot be a dictionary key.", nameof(key));
        }
        return key;
    }

    private static object? Unwrap(object key) => ReferenceEquals(key, NoneKey.Instance) ? null : key;

    private sealed class NoneKey
    {
        public static readonly NoneKey Instance = new();
    }

    private sealed class KeyComparer : IEqualityComparer<object>
    {
        public static readonly KeyComparer Instance = new();

        public new bool Equals(object? x, object? y) => PbEqualityComparer.Instance.Equals(x, y);

        public int GetHashCode(object obj) => PbEqualityComparer.Instance.GetHashCode(obj);
    }
}
