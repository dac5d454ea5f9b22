using System.Collections;
using System.Diagnostics.CodeAnalysis;

namespace Pb.Jelly;

/// <summary>
/// A Python dict: keys of any hashable jelly value (text, bytes, numbers, tuples, frozensets, None) compared
/// with <see cref="PbEqualityComparer"/>, entries kept in insertion order as Python keeps them. Unlike
/// <see cref="Dictionary{TKey, TValue}"/> it accepts a null (None) key.
/// </summary>
/// <remarks>
/// Most PB dicts are small (keyword arguments, records with a handful of fields), so up to eight entries are kept
/// in one array and found by a linear scan: no hashing and two allocations per dict. Larger dicts move to a hash
/// table, still in insertion order.
/// </remarks>
public sealed class PbDictionary : IDictionary<object?, object?>, IReadOnlyDictionary<object?, object?>
{
    private const int SmallLimit = 8;

    private KeyValuePair<object, object?>[]? _small;
    private int _count;
    private Dictionary<object, object?>? _large;   // Dictionary<,> keeps insertion order while nothing is removed

    /// <summary>Creates an empty dictionary.</summary>
    public PbDictionary()
    {
    }

    /// <summary>Creates an empty dictionary with room for <paramref name="capacity"/> entries.</summary>
    public PbDictionary(int capacity)
    {
        if (capacity > SmallLimit)
        {
            _large = new Dictionary<object, object?>(capacity, KeyComparer.Instance);
        }
        else if (capacity > 0)
        {
            _small = new KeyValuePair<object, object?>[capacity];
        }
    }

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
        get => TryGetValue(key, out object? value) ? value : throw new KeyNotFoundException($"Key {PbValueFormatter.Format(key)} is not in the dictionary.");
        set => Set(Wrap(key), value, throwIfExists: false);
    }

    /// <inheritdoc/>
    public int Count => _large?.Count ?? _count;

    /// <inheritdoc/>
    public bool IsReadOnly => false;

    /// <inheritdoc/>
    public ICollection<object?> Keys => this.Select(e => e.Key).ToList();

    /// <inheritdoc/>
    public ICollection<object?> Values => this.Select(e => e.Value).ToList();

    IEnumerable<object?> IReadOnlyDictionary<object?, object?>.Keys => Keys;

    IEnumerable<object?> IReadOnlyDictionary<object?, object?>.Values => Values;

    /// <inheritdoc/>
    public void Add(object? key, object? value) => Set(Wrap(key), value, throwIfExists: true);

    /// <inheritdoc/>
    public void Add(KeyValuePair<object?, object?> item) => Add(item.Key, item.Value);

    /// <summary>Sets an entry whose key the caller already checked for hashability (the unjellier's path).</summary>
    internal void SetUnchecked(object? key, object? value) => Set(key ?? NoneKey.Instance, value, throwIfExists: false);

    private void Set(object key, object? value, bool throwIfExists)
    {
        if (_large is not null)
        {
            if (throwIfExists)
            {
                _large.Add(key, value);
            }
            else
            {
                _large[key] = value;
            }
            return;
        }
        int index = IndexOf(key);
        if (index >= 0)
        {
            if (throwIfExists)
            {
                throw new ArgumentException($"Key {PbValueFormatter.Format(Unwrap(key))} is already in the dictionary.", nameof(key));
            }
            // Python keeps the first key object and replaces the value.
            _small![index] = new KeyValuePair<object, object?>(_small[index].Key, value);
            return;
        }
        if (_count == SmallLimit)
        {
            var large = new Dictionary<object, object?>(SmallLimit * 2, KeyComparer.Instance);
            for (int i = 0; i < _count; i++)
            {
                large.Add(_small![i].Key, _small[i].Value);
            }
            large.Add(key, value);
            _large = large;
            _small = null;
            _count = 0;
            return;
        }
        if (_small is null || _count == _small.Length)
        {
            Array.Resize(ref _small, Math.Min(Math.Max(4, _count * 2), SmallLimit));
        }
        _small[_count++] = new KeyValuePair<object, object?>(key, value);
    }

    private int IndexOf(object key)
    {
        for (int i = 0; i < _count; i++)
        {
            if (PbEqualityComparer.Instance.Equals(_small![i].Key, key))
            {
                return i;
            }
        }
        return -1;
    }

    /// <inheritdoc/>
    public void Clear()
    {
        _large = null;
        _small = null;
        _count = 0;
    }

    /// <inheritdoc/>
    public bool Contains(KeyValuePair<object?, object?> item) =>
        TryGetValue(item.Key, out object? value) && PbEqualityComparer.Instance.Equals(value, item.Value);

    /// <inheritdoc/>
    public bool ContainsKey(object? key) => TryGetValue(key, out _);

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
        object wrapped = Wrap(key);
        if (_large is not null)
        {
            if (!_large.ContainsKey(wrapped))
            {
                return false;
            }
            // Rebuild so the remaining entries keep their insertion order.
            var rebuilt = new Dictionary<object, object?>(_large.Count, KeyComparer.Instance);
            foreach (KeyValuePair<object, object?> entry in _large)
            {
                if (!KeyComparer.Instance.Equals(entry.Key, wrapped))
                {
                    rebuilt.Add(entry.Key, entry.Value);
                }
            }
            _large = rebuilt;
            return true;
        }
        int index = IndexOf(wrapped);
        if (index < 0)
        {
            return false;
        }
        Array.Copy(_small!, index + 1, _small!, index, _count - index - 1);
        _small![--_count] = default;
        return true;
    }

    /// <inheritdoc/>
    public bool Remove(KeyValuePair<object?, object?> item) => Contains(item) && Remove(item.Key);

    /// <inheritdoc/>
    public bool TryGetValue(object? key, [MaybeNullWhen(false)] out object? value)
    {
        object wrapped = Wrap(key);
        if (_large is not null)
        {
            return _large.TryGetValue(wrapped, out value);
        }
        int index = IndexOf(wrapped);
        value = index >= 0 ? _small![index].Value : null;
        return index >= 0;
    }

    /// <summary>Enumerates the entries in insertion order.</summary>
    public Enumerator GetEnumerator() => new(this);

    IEnumerator<KeyValuePair<object?, object?>> IEnumerable<KeyValuePair<object?, object?>>.GetEnumerator() => GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Python-like text: <c>{'a': 1}</c>.</summary>
    public override string ToString() =>
        "{" + string.Join(", ", this.Select(e => PbValueFormatter.Format(e.Key) + ": " + PbValueFormatter.Format(e.Value))) + "}";

    /// <summary>An allocation-free enumerator over the entries.</summary>
    public struct Enumerator : IEnumerator<KeyValuePair<object?, object?>>
    {
        private readonly KeyValuePair<object, object?>[]? _small;
        private readonly int _count;
        private Dictionary<object, object?>.Enumerator _large;
        private readonly bool _isLarge;
        private int _index;

        internal Enumerator(PbDictionary dictionary)
        {
            _small = dictionary._small;
            _count = dictionary._count;
            _isLarge = dictionary._large is not null;
            _large = _isLarge ? dictionary._large!.GetEnumerator() : default;
            _index = -1;
        }

        /// <inheritdoc/>
        public readonly KeyValuePair<object?, object?> Current
        {
            get
            {
                KeyValuePair<object, object?> c = _isLarge ? _large.Current : _small![_index];
                return new KeyValuePair<object?, object?>(Unwrap(c.Key), c.Value);
            }
        }

        readonly object IEnumerator.Current => Current;

        /// <inheritdoc/>
        public bool MoveNext() => _isLarge ? _large.MoveNext() : ++_index < _count;

        /// <inheritdoc/>
        public void Dispose()
        {
            if (_isLarge)
            {
                _large.Dispose();
            }
        }

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
