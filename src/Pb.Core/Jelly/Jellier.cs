using System.Collections;
using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pb.Banana;

namespace Pb.Jelly;

/// <summary>
/// Turns .NET values into jelly, written straight to a <see cref="BananaWriter"/> (no intermediate tree).
/// Reusable and cheap to keep per connection; not thread-safe.
/// </summary>
/// <remarks>
/// <para>Mapping (PB-WIRE.md section 2): null is <c>["None"]</c>; <see cref="bool"/> is <c>["boolean", "true"]</c>;
/// integers and floats are bare banana atoms; <see cref="byte"/>[] is a bare byte string; <see cref="string"/> is
/// <c>["unicode", utf8]</c>; <see cref="IList"/> is <c>["list", ...]</c>; <see cref="PbTuple"/> and
/// <see cref="ITuple"/> are <c>["tuple", ...]</c>; dictionaries are <c>["dictionary", [k, v], ...]</c>;
/// <see cref="HashSet{T}"/> is <c>["set", ...]</c>; <see cref="PbFrozenSet"/> is <c>["frozenset", ...]</c>;
/// <see cref="DateTime"/>, <see cref="DateOnly"/>, <see cref="TimeOnly"/>, <see cref="TimeSpan"/> are
/// <c>["datetime", "Y M D h m s us"]</c>, <c>["date", ...]</c>, <c>["time", ...]</c>, <c>["timedelta", "d s us"]</c>;
/// <see cref="decimal"/> is <c>["decimal", coefficient, exponent]</c>; registered types are <c>[tag, state]</c>.</para>
/// <para>Shared and cyclic containers are numbered as Twisted numbers them: a container met a second time gets the
/// next number (from 1, per call), its first occurrence becomes <c>["reference", n, ...]</c> and every later one
/// <c>["dereference", n]</c>. So <c>a=["a"]; b=["b"]; [a, b, b, a]</c> numbers b as 1 and a as 2. A first pass over
/// the graph finds them, so the output can be streamed.</para>
/// </remarks>
public sealed class Jellier
{
    private static readonly ConcurrentDictionary<Type, SequenceKind> s_sequenceKinds = new();

    private readonly JellyOptions _options;
    // Every container met in the first pass. 0: met once; n > 0: met again, reference n, not yet written;
    // -n: reference n, first occurrence already written (later ones are dereferences).
    private readonly Dictionary<object, int> _seen = new(ReferenceEqualityComparer.Instance);
    // What the first pass computed and the write reuses: Copyable states, materialized sequences.
    private readonly Dictionary<object, object?> _substitutes = new(ReferenceEqualityComparer.Instance);
    private int _nextReference;
    private int _maxDepth;
    private bool _busy;
    private IJellyContext? _context;

    /// <summary>Creates a jellier.</summary>
    public Jellier(JellyOptions? options = null) => _options = options ?? JellyOptions.Default;

    /// <summary>The options in force.</summary>
    public JellyOptions Options => _options;

    /// <summary>Writes <paramref name="value"/> as one jelly expression.</summary>
    /// <exception cref="JellyException">Something in the value cannot be jellied.</exception>
    /// <exception cref="BananaException">An item exceeds a banana limit.</exception>
    public void Jelly(ref BananaWriter writer, object? value) => Jelly(ref writer, value, null);

    internal void Jelly(ref BananaWriter writer, object? value, IJellyContext? context)
    {
        Begin(ref writer, context);
        try
        {
            Scan(value, 0);
            Write(ref writer, value, 0);
        }
        finally
        {
            End();
        }
    }

    /// <summary>
    /// Writes <paramref name="items"/> as one <c>["tuple", ...]</c> jelly expression (PB's call arguments), sharing
    /// reference numbers across the items as one tuple would, without allocating the tuple.
    /// </summary>
    internal void JellyTuple(ref BananaWriter writer, ReadOnlySpan<object?> items, IJellyContext? context)
    {
        Begin(ref writer, context);
        try
        {
            foreach (object? item in items)
            {
                Scan(item, 1);
            }
            WriteHeader(ref writer, JellyTag.Tuple, items.Length);
            foreach (object? item in items)
            {
                Write(ref writer, item, 1);
            }
        }
        finally
        {
            End();
        }
    }

    private void Begin(ref BananaWriter writer, IJellyContext? context) => BeginMessage(context, writer.Limits.MaxDepth);

    // ---- the two passes apart, for the broker: the first pass runs the application's code (Copyable states,
    // Cacheable observers) and runs before the connection's write lock is taken; the second only writes bytes.

    /// <summary>Starts a message whose values are scanned with <see cref="ScanValue"/>, then written with <see cref="WriteValue"/>.</summary>
    internal void BeginMessage(IJellyContext? context, int maxDepth)
    {
        if (_busy)
        {
            throw new InvalidOperationException("A Jellier is not reentrant; use one per thread or per connection.");
        }
        _busy = true;
        _maxDepth = maxDepth;
        _context = context;
    }

    /// <summary>The first pass over one value of the message, at nesting <paramref name="depth"/>.</summary>
    internal void ScanValue(object? value, int depth) => Scan(value, depth);

    /// <summary>The second pass: writes one value scanned before, at the same <paramref name="depth"/>.</summary>
    internal void WriteValue(ref BananaWriter writer, object? value, int depth) => Write(ref writer, value, depth);

    /// <summary>Writes the header of a <c>["tuple", ...]</c> of <paramref name="count"/> items.</summary>
    internal static void WriteTupleHeader(ref BananaWriter writer, int count) => WriteHeader(ref writer, JellyTag.Tuple, count);

    /// <summary>Ends the message: the jellier is ready for the next one.</summary>
    internal void EndMessage() => End();

    private void End()
    {
        if (_seen.Count > 0)
        {
            _seen.Clear();
        }
        if (_substitutes.Count > 0)
        {
            _substitutes.Clear();
        }
        _nextReference = 0;
        _context = null;
        _busy = false;
    }

    // ---- first pass: identities, in the order the write visits them ----

    private void Scan(object? value, int depth)
    {
        // The shape first: GetType is a call, and untyped values (no record met) should not pay it for every value.
        if (_recordShape is { Flat: true } && value is not null && value.GetType() == _recordType)
        {
            if (depth >= _maxDepth)
            {
                throw TooDeep();
            }
            return; // a record of scalars: nothing in it can be shared
        }
        switch (value)
        {
            case null or string or long or int or double or bool or byte[]:
                return;
            case List<object?> list:
                if (Enter(list, depth))
                {
                    foreach (object? item in list)
                    {
                        Scan(item, depth + 1);
                    }
                }
                return;
            case PbDictionary dict:
                if (Enter(dict, depth))
                {
                    foreach (KeyValuePair<object?, object?> entry in dict)
                    {
                        Scan(entry.Key, depth + 2);
                        Scan(entry.Value, depth + 2);
                    }
                }
                return;
            case Dictionary<string, object?> dict:
                if (Enter(dict, depth))
                {
                    foreach (KeyValuePair<string, object?> entry in dict)
                    {
                        Scan(entry.Value, depth + 2);
                    }
                }
                return;
            case PbTuple tuple:
                if (Enter(tuple, depth))
                {
                    foreach (object? item in tuple.AsSpan())
                    {
                        Scan(item, depth + 1);
                    }
                }
                return;
            case HashSet<object?> or PbFrozenSet:
                if (Enter(value, depth))
                {
                    foreach (object? item in (IEnumerable)value)
                    {
                        Scan(item, depth + 1);
                    }
                }
                return;
            case IDictionary dict:
                if (Enter(dict, depth))
                {
                    foreach (DictionaryEntry entry in dict)
                    {
                        Scan(entry.Key, depth + 2);
                        Scan(entry.Value, depth + 2);
                    }
                }
                return;
            case IList list:
                if (Enter(list, depth))
                {
                    // An array or List<T> of a sealed record type of scalars holds nothing that can be shared.
                    if (depth + 1 < _maxDepth && SealedRecordsIn(list) is { Flat: true })
                    {
                        return;
                    }
                    if (list is object?[] array)
                    {
                        foreach (object? item in array)
                        {
                            Scan(item, depth + 1);
                        }
                        return;
                    }
                    foreach (object? item in list)
                    {
                        Scan(item, depth + 1);
                    }
                }
                return;
            case ITuple tuple:
                if (Enter(tuple, depth))
                {
                    for (int i = 0; i < tuple.Length; i++)
                    {
                        Scan(tuple[i], depth + 1);
                    }
                }
                return;
        }
        if (RecordFor(value.GetType()) is { } record)
        {
            // A typed value is a dict on the wire, and shares like one; a record of scalars only cannot hold a shared
            // value, so it needs no identity at all (a record instance sent twice goes as two equal dicts).
            if (!record.Flat && Enter(value, depth))
            {
                foreach (RecordShape.Member member in record.Members)
                {
                    Scan(member.Get(value), depth + 2);
                }
            }
            else if (record.Flat && depth >= _maxDepth)
            {
                throw TooDeep();
            }
            return;
        }
        if (IsAtomic(value) || (_context is not null && _context.IsReference(value)))
        {
            // Every occurrence of a PB reference is written on its own (PB-WIRE.md 3.5): no sharing.
            return;
        }
        if (_context?.PrepareCache(value) is { } cache)
        {
            // Cacheables share like containers within one message, as Twisted's prepare/preserve does.
            if (Enter(value, depth))
            {
                _substitutes[value] = cache;
                Scan(cache.State, depth + 1);
            }
            return;
        }
        if (_options.Types.Find(value.GetType()) is { } copyable)
        {
            if (Enter(value, depth))
            {
                object? perspective = _context?.Perspective;
                object? state = copyable.GetState(value, perspective);
                _substitutes[value] = new CopyForm(copyable.TagFor(value, perspective), state);
                Scan(state, depth + 1);
            }
            return;
        }
        if (value is IEnumerable sequence)
        {
            if (Enter(value, depth))
            {
                // Materialize once: the count goes first on the wire, and the sequence may not be re-enumerable.
                var items = new List<object?>();
                foreach (object? item in sequence)
                {
                    items.Add(item);
                }
                _substitutes[value] = items;
                foreach (object? item in items)
                {
                    Scan(item, depth + 1);
                }
            }
        }
    }

    private bool Enter(object container, int depth)
    {
        if (depth >= _maxDepth)
        {
            throw TooDeep();
        }
        ref int slot = ref CollectionsMarshal.GetValueRefOrAddDefault(_seen, container, out bool exists);
        if (!exists)
        {
            return true;
        }
        if (slot == 0)
        {
            slot = ++_nextReference;
        }
        return false;
    }

    private JellyException TooDeep() =>
        new($"Cannot jelly a value nested more than {_maxDepth} lists deep (BananaLimits.MaxDepth): the receiver would refuse it.");

    /// <summary>A Copyable as the first pass found it: its tag and state for this message's perspective.</summary>
    private sealed record CopyForm(byte[] Tag, object? State);

    private static bool IsAtomic(object value) =>
        value is BigInteger or decimal or PbDecimal or float or DateTime or DateOnly or TimeOnly or TimeSpan or Enum or char
            or short or ushort or byte or sbyte or uint or ulong or Unpersistable or ReadOnlyMemory<byte> or Memory<byte>
            or DateTimeOffset;

    // ---- second pass: the bytes ----

    /// <summary>Writes the reference wrapper or a dereference. False when the container must not be written again.</summary>
    private bool BeginContainer(ref BananaWriter w, object container, ref int depth)
    {
        if (depth >= _maxDepth)
        {
            throw TooDeep();
        }
        if (_nextReference == 0 || !_seen.TryGetValue(container, out int slot) || slot == 0)
        {
            return true;
        }
        if (slot < 0)
        {
            w.WriteListHeader(2);
            w.WriteRaw(JellyTags.Encoded(JellyTag.Dereference, w.Dialect));
            w.WriteInt(-slot);
            return false;
        }
        _seen[container] = -slot;
        w.WriteListHeader(3);
        w.WriteRaw(JellyTags.Encoded(JellyTag.Reference, w.Dialect));
        w.WriteInt(slot);
        depth++;
        if (depth >= _maxDepth)
        {
            throw TooDeep();
        }
        return true;
    }

    private void Write(ref BananaWriter w, object? value, int depth)
    {
        if (_recordShape is { } record && value is not null && value.GetType() == _recordType)
        {
            // The record type met last (a list of records): before the interface tests of the switch.
            WriteRecord(ref w, record, value, depth);
            return;
        }
        switch (value)
        {
            case null:
                w.WriteRaw(JellyConstants.For(w.Dialect).None);
                return;
            case string s:
                w.WriteRaw(JellyConstants.For(w.Dialect).UnicodePrefix);
                w.WriteUtf8(s);
                return;
            case long l:
                w.WriteInt(l);
                return;
            case int i:
                w.WriteInt(i);
                return;
            case double d:
                w.WriteFloat(d);
                return;
            case bool b:
                w.WriteRaw(b ? JellyConstants.For(w.Dialect).True : JellyConstants.For(w.Dialect).False);
                return;
            case byte[] bytes:
                w.WriteBytes(bytes);
                return;
            case List<object?> list:
                if (BeginContainer(ref w, list, ref depth))
                {
                    WriteHeader(ref w, JellyTag.List, list.Count);
                    foreach (object? item in list)
                    {
                        Write(ref w, item, depth + 1);
                    }
                }
                return;
            case PbDictionary dict:
                if (BeginContainer(ref w, dict, ref depth))
                {
                    WriteHeader(ref w, JellyTag.Dictionary, dict.Count);
                    foreach (KeyValuePair<object?, object?> entry in dict)
                    {
                        w.WriteListHeader(2);
                        WriteKey(ref w, entry.Key, depth + 2);
                        Write(ref w, entry.Value, depth + 2);
                    }
                }
                return;
            case Dictionary<string, object?> dict:
                if (BeginContainer(ref w, dict, ref depth))
                {
                    WriteHeader(ref w, JellyTag.Dictionary, dict.Count);
                    foreach (KeyValuePair<string, object?> entry in dict)
                    {
                        w.WriteListHeader(2);
                        WriteKey(ref w, entry.Key, depth + 2);
                        Write(ref w, entry.Value, depth + 2);
                    }
                }
                return;
            case PbTuple tuple:
                if (BeginContainer(ref w, tuple, ref depth))
                {
                    WriteHeader(ref w, JellyTag.Tuple, tuple.Count);
                    foreach (object? item in tuple.AsSpan())
                    {
                        Write(ref w, item, depth + 1);
                    }
                }
                return;
            case HashSet<object?> set:
                if (BeginContainer(ref w, set, ref depth))
                {
                    WriteHeader(ref w, JellyTag.Set, set.Count);
                    foreach (object? item in set)
                    {
                        Write(ref w, item, depth + 1);
                    }
                }
                return;
            case PbFrozenSet frozen:
                if (BeginContainer(ref w, frozen, ref depth))
                {
                    WriteHeader(ref w, JellyTag.FrozenSet, frozen.Count);
                    foreach (object? item in frozen)
                    {
                        Write(ref w, item, depth + 1);
                    }
                }
                return;
            case IDictionary dict:
                if (BeginContainer(ref w, dict, ref depth))
                {
                    WriteHeader(ref w, JellyTag.Dictionary, dict.Count);
                    foreach (DictionaryEntry entry in dict)
                    {
                        w.WriteListHeader(2);
                        Write(ref w, entry.Key, depth + 2);
                        Write(ref w, entry.Value, depth + 2);
                    }
                }
                return;
            case IList list:
                if (BeginContainer(ref w, list, ref depth))
                {
                    WriteHeader(ref w, JellyTag.List, list.Count);
                    // Arrays of reference types (an Item[] is an object[]) are indexed, not walked with IList's enumerator;
                    // so is a List<T> of a sealed record type, whose every item is that record or None (no type test).
                    RecordShape? elementRecord = SealedRecordsIn(list);
                    if (elementRecord is not null && list is object?[] records)
                    {
                        foreach (object? item in records)
                        {
                            WriteRecordOrNone(ref w, elementRecord, item, depth + 1);
                        }
                    }
                    else if (elementRecord is not null)
                    {
                        for (int i = 0; i < list.Count; i++)
                        {
                            WriteRecordOrNone(ref w, elementRecord, list[i], depth + 1);
                        }
                    }
                    else if (list is object?[] array)
                    {
                        foreach (object? item in array)
                        {
                            Write(ref w, item, depth + 1);
                        }
                    }
                    else
                    {
                        foreach (object? item in list)
                        {
                            Write(ref w, item, depth + 1);
                        }
                    }
                }
                return;
            case ITuple tuple:
                if (BeginContainer(ref w, tuple, ref depth))
                {
                    WriteHeader(ref w, JellyTag.Tuple, tuple.Length);
                    for (int i = 0; i < tuple.Length; i++)
                    {
                        Write(ref w, tuple[i], depth + 1);
                    }
                }
                return;
            default:
                WriteOther(ref w, value, depth);
                return;
        }
    }

    // Dictionary keys repeat (every record of a list has the same field names): their encoded items are remembered
    // per jellier, keyed by the string instance, so a repeated key is one copy instead of a UTF-8 encoding.
    private const int KeyCacheSize = 32, MaxCachedKeyLength = 32;
    private readonly (string? Key, BananaDialect Dialect, byte[]? Item)[] _keyCache = new (string?, BananaDialect, byte[]?)[KeyCacheSize];

    private void WriteKey(ref BananaWriter w, object? key, int depth)
    {
        if (key is not string text || text.Length > MaxCachedKeyLength)
        {
            Write(ref w, key, depth);
            return;
        }
        ref (string? Key, BananaDialect Dialect, byte[]? Item) slot = ref _keyCache[RuntimeHelpers.GetHashCode(text) & (KeyCacheSize - 1)];
        if (!ReferenceEquals(slot.Key, text) || slot.Dialect != w.Dialect)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(text.Length + 16);
            var itemWriter = new BananaWriter(buffer, w.Dialect, w.Limits);
            itemWriter.WriteRaw(JellyConstants.For(w.Dialect).UnicodePrefix);
            itemWriter.WriteUtf8(text);
            itemWriter.Flush();
            slot = (text, w.Dialect, buffer.WrittenSpan.ToArray());
        }
        w.WriteRaw(slot.Item);
    }

    private static void WriteHeader(ref BananaWriter w, JellyTag tag, int count)
    {
        if (count >= w.Limits.MaxItemLength)
        {
            throw new BananaException($"list/tuple is too long to send ({count} elements and a tag; the limit is {w.Limits.MaxItemLength}, set by BananaLimits.MaxItemLength).");
        }
        w.WriteListHeader(count + 1);
        w.WriteRaw(JellyTags.Encoded(tag, w.Dialect));
    }

    // The record type met last, and how it is written (null: not a typed value, or a registered Copyable that keeps its
    // own form): a list of 1000 records asks 1000 times.
    private Type? _recordType;
    private RecordShape? _recordShape;

    private RecordShape? RecordFor(Type type)
    {
        if (type != _recordType)
        {
            _recordShape = RecordShape.ForWriting(type) is { } shape && _options.Types.Find(type) is null ? shape : null;
            _recordType = type;
        }
        return _recordShape;
    }

    // The array or List<T> type met last and the record shape of its sealed element type (null: none).
    private Type? _arrayType;
    private RecordShape? _arrayRecord;

    /// <summary>The record shape every item of <paramref name="list"/> (an array or a List&lt;T&gt;) has when its element type is a sealed record type; else null.</summary>
    private RecordShape? SealedRecordsIn(IList list)
    {
        Type type = list.GetType();
        if (type != _arrayType)
        {
            Type? element = type.IsSZArray ? type.GetElementType()
                : type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0]
                : null;
            // Only where the item-by-item write would reach the record shape too: an ITuple is written as a tuple
            // before any record test, and a type whose shape cannot be built is refused only when an item is met
            // (an empty or all-None array of it is still written).
            RecordShape? shape = null;
            if (element is { IsSealed: true } && !typeof(ITuple).IsAssignableFrom(element))
            {
                try
                {
                    shape = RecordFor(element);
                }
                catch (JellyException)
                {
                }
            }
            _arrayRecord = shape;
            _arrayType = type;
        }
        return _arrayRecord;
    }

    /// <summary>An item of a list whose element type is a sealed record type: that record, or None.</summary>
    private void WriteRecordOrNone(ref BananaWriter w, RecordShape record, object? item, int depth)
    {
        if (item is null)
        {
            w.WriteRaw(JellyConstants.For(w.Dialect).None);
        }
        else
        {
            WriteRecord(ref w, record, item, depth);
        }
    }

    private void WriteRecord(ref BananaWriter w, RecordShape record, object value, int depth)
    {
        if (record.Flat)
        {
            if (depth >= _maxDepth)
            {
                throw TooDeep();
            }
        }
        else if (!BeginContainer(ref w, value, ref depth))
        {
            return;
        }
        RecordShape.Encoded encoded = record.EncodedFor(w.Dialect, w.Limits);
        RecordShape.Member[] members = record.Members;
        if (members.Length == 0)
        {
            w.WriteRaw(encoded.Head);
            return;
        }
        for (int i = 0; i < members.Length; i++)
        {
            RecordShape.Member member = members[i];
            // [key, : the list header and the key, encoded once per type (after the head for the first member, before
            // the ["unicode", of a text member's value)
            byte[] lead = encoded.Leads[i];
            switch (member.Kind)
            {
                case RecordShape.MemberKind.Int64:
                    w.WriteRaw(lead);
                    w.WriteInt(member.GetInt64!(value));
                    break;
                case RecordShape.MemberKind.Double:
                    w.WriteRaw(lead);
                    w.WriteFloat(member.GetDouble!(value));
                    break;
                case RecordShape.MemberKind.String:
                    if (member.GetString!(value) is { } text)
                    {
                        w.WriteRaw(lead);
                        w.WriteUtf8(text);
                    }
                    else
                    {
                        w.WriteRaw(lead.AsSpan(0, lead.Length - JellyConstants.For(w.Dialect).UnicodePrefix.Length));
                        w.WriteRaw(JellyConstants.For(w.Dialect).None);
                    }
                    break;
                case RecordShape.MemberKind.Boolean:
                    w.WriteRaw(lead);
                    w.WriteRaw(member.GetBoolean!(value) ? JellyConstants.For(w.Dialect).True : JellyConstants.For(w.Dialect).False);
                    break;
                default:
                    w.WriteRaw(lead);
                    Write(ref w, member.Get(value), depth + 2);
                    break;
            }
        }
    }

    private void WriteOther(ref BananaWriter w, object value, int depth)
    {
        switch (value)
        {
            case BigInteger big: w.WriteInt(big); return;
            case decimal m: WriteDecimal(ref w, m); return;
            case PbDecimal pd:
                WriteHeader(ref w, JellyTag.Decimal, 2);
                w.WriteInt(pd.Coefficient);
                w.WriteInt(pd.Exponent);
                return;
            case float f: w.WriteFloat(f); return;
            case DateTime dt: WriteDateTime(ref w, dt); return;
            case DateOnly date: WriteDate(ref w, date); return;
            case TimeOnly time: WriteTime(ref w, time); return;
            case TimeSpan span: WriteTimeDelta(ref w, span); return;
            case short s: w.WriteInt(s); return;
            case ushort us: w.WriteInt(us); return;
            case byte b: w.WriteInt(b); return;
            case sbyte sb: w.WriteInt(sb); return;
            case uint ui: w.WriteInt(ui); return;
            case ulong ul: w.WriteInt(ul); return;
            case char c:
                w.WriteRaw(JellyConstants.For(w.Dialect).UnicodePrefix);
                w.WriteUtf8([c]);
                return;
            case Enum e:
                if (Convert.GetTypeCode(e) == TypeCode.UInt64)
                {
                    w.WriteInt(Convert.ToUInt64(e, System.Globalization.CultureInfo.InvariantCulture));
                }
                else
                {
                    w.WriteInt(Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture));
                }
                return;
            case ReadOnlyMemory<byte> rom: w.WriteBytes(rom.Span); return;
            case Memory<byte> mem: w.WriteBytes(mem.Span); return;
            case Unpersistable u: WriteUnpersistable(ref w, u.Reason); return;
            case DateTimeOffset:
                throw new JellyException("Cannot jelly a DateTimeOffset: Twisted refuses datetimes with tzinfo. Send its UtcDateTime (naive) instead.");
        }
        if (RecordFor(value.GetType()) is { } record)
        {
            // After the atomic types: a BigInteger or DateTime does not ask the record cache.
            WriteRecord(ref w, record, value, depth);
            return;
        }
        if (_context is not null && _context.TryWriteReference(value, ref w))
        {
            return;
        }
        if (_substitutes.TryGetValue(value, out object? substitute) || _seen.ContainsKey(value))
        {
            if (!BeginContainer(ref w, value, ref depth))
            {
                return;
            }
            if (substitute is CacheForm cache)
            {
                if (cache.IsNew)
                {
                    // Decided under the write lock: another message may have sent this Cacheable first.
                    cache = _context!.CommitCache(cache);
                }
                if (cache.IsNew)
                {
                    w.WriteListHeader(3);
                    w.WriteBytes(cache.Tag);
                    w.WriteInt(cache.Id);
                    Write(ref w, cache.State, depth + 1);
                }
                else
                {
                    w.WriteListHeader(2);
                    w.WriteRaw(JellyTags.Encoded(JellyTag.Cached, w.Dialect));
                    w.WriteInt(cache.Id);
                }
                return;
            }
            if (substitute is CopyForm copy)
            {
                w.WriteListHeader(2);
                w.WriteBytes(copy.Tag);
                Write(ref w, copy.State, depth + 1);
                return;
            }
            var items = (List<object?>)substitute!;
            WriteHeader(ref w, KindOf(value.GetType()) switch
            {
                SequenceKind.Set => JellyTag.Set,
                SequenceKind.FrozenSet => JellyTag.FrozenSet,
                _ => JellyTag.List,
            }, items.Count);
            foreach (object? item in items)
            {
                Write(ref w, item, depth + 1);
            }
            return;
        }
        if (_options.SendUnregisteredAsUnpersistable)
        {
            WriteUnpersistable(ref w, $"instance of class {value.GetType().FullName} deemed insecure");
            return;
        }
        throw new JellyException($"Cannot jelly {value.GetType().FullName}: it is not a jelly type. Register it on JellyOptions.Types to send it as a Copyable, or send its data as a dictionary.");
    }

    private static void WriteUnpersistable(ref BananaWriter w, string reason)
    {
        w.WriteListHeader(2);
        w.WriteRaw(JellyTags.Encoded(JellyTag.Unpersistable, w.Dialect));
        w.WriteUtf8(reason);
    }

    private enum SequenceKind : byte { List, Set, FrozenSet }

    private static SequenceKind KindOf(Type type) => s_sequenceKinds.GetOrAdd(type, static t =>
    {
        bool isSet = false, isReadOnlySet = false;
        foreach (Type i in t.GetInterfaces())
        {
            if (i.IsGenericType)
            {
                Type def = i.GetGenericTypeDefinition();
                isSet |= def == typeof(ISet<>);
                isReadOnlySet |= def == typeof(IReadOnlySet<>);
            }
        }
        return isSet ? SequenceKind.Set : isReadOnlySet ? SequenceKind.FrozenSet : SequenceKind.List;
    });

    private static void WriteDecimal(ref BananaWriter w, decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        int scale = (bits[3] >> 16) & 0xFF;
        bool negative = bits[3] < 0;
        UInt128 mantissa = ((UInt128)(uint)bits[2] << 64) | ((UInt128)(uint)bits[1] << 32) | (uint)bits[0];
        WriteHeader(ref w, JellyTag.Decimal, 2);
        if (mantissa <= long.MaxValue)
        {
            long m = (long)mantissa;
            w.WriteInt(negative ? -m : m);
        }
        else
        {
            var m = (BigInteger)mantissa;
            w.WriteInt(negative ? -m : m);
        }
        w.WriteInt(-scale);
    }

    private static void WriteDateTime(ref BananaWriter w, DateTime value)
    {
        Span<byte> text = stackalloc byte[64];
        int n = 0;
        Append(text, ref n, value.Year, ' ');
        Append(text, ref n, value.Month, ' ');
        Append(text, ref n, value.Day, ' ');
        Append(text, ref n, value.Hour, ' ');
        Append(text, ref n, value.Minute, ' ');
        Append(text, ref n, value.Second, ' ');
        Append(text, ref n, (value.Ticks % TimeSpan.TicksPerSecond) / 10, '\0');
        WriteTextItem(ref w, JellyTag.DateTime, text[..n]);
    }

    private static void WriteDate(ref BananaWriter w, DateOnly value)
    {
        Span<byte> text = stackalloc byte[32];
        int n = 0;
        Append(text, ref n, value.Year, ' ');
        Append(text, ref n, value.Month, ' ');
        Append(text, ref n, value.Day, '\0');
        WriteTextItem(ref w, JellyTag.Date, text[..n]);
    }

    private static void WriteTime(ref BananaWriter w, TimeOnly value)
    {
        Span<byte> text = stackalloc byte[48];
        int n = 0;
        Append(text, ref n, value.Hour, ' ');
        Append(text, ref n, value.Minute, ' ');
        Append(text, ref n, value.Second, ' ');
        Append(text, ref n, (value.Ticks % TimeSpan.TicksPerSecond) / 10, '\0');
        WriteTextItem(ref w, JellyTag.Time, text[..n]);
    }

    private static void WriteTimeDelta(ref BananaWriter w, TimeSpan value)
    {
        // Python normalizes to days (any sign), 0 <= seconds < 86400, 0 <= microseconds < 10**6.
        // Sub-microsecond ticks are dropped (rounded toward negative infinity, as Python's floor division).
        long micros = Math.DivRem(value.Ticks, 10, out long rest);
        if (rest < 0)
        {
            micros--;
        }
        const long MicrosPerDay = 86_400_000_000;
        long days = Math.DivRem(micros, MicrosPerDay, out long within);
        if (within < 0)
        {
            days--;
            within += MicrosPerDay;
        }
        Span<byte> text = stackalloc byte[64];
        int n = 0;
        Append(text, ref n, days, ' ');
        Append(text, ref n, within / 1_000_000, ' ');
        Append(text, ref n, within % 1_000_000, '\0');
        WriteTextItem(ref w, JellyTag.TimeDelta, text[..n]);
    }

    private static void Append(Span<byte> text, ref int n, long value, char separator)
    {
        value.TryFormat(text[n..], out int written, default, System.Globalization.CultureInfo.InvariantCulture);
        n += written;
        if (separator != '\0')
        {
            text[n++] = (byte)separator;
        }
    }

    private static void WriteTextItem(ref BananaWriter w, JellyTag tag, scoped ReadOnlySpan<byte> text)
    {
        WriteHeader(ref w, tag, 1);
        w.WriteBytes(text);
    }
}
