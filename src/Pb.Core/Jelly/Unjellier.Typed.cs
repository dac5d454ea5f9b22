using System.Collections;
using System.Collections.Concurrent;
using Pb.Banana;

namespace Pb.Jelly;

/// <summary>
/// Reading straight into the type code asked for (issue 13): a record's dict, a list of records, numbers and text are
/// read from the banana tokens into the typed values, with no <see cref="PbDictionary"/> tree in between. Anything a
/// plan does not expect where it starts (a shared or cyclic value, another type) is read the generic way and then
/// converted, so the result is always what <see cref="JellyConvert"/> would make of the tree.
/// </summary>
public sealed partial class Unjellier
{
    /// <summary>Reads the call arguments <c>["tuple", ...]</c>, each positional one through its plan (null: generic).</summary>
    /// <returns>Null when a typed read failed: nothing is consumed then, and the caller reads the generic way, which reports the error as before.</returns>
    /// <exception cref="JellyException">A typed read failed after it had resolved references or caches of the peer: read again, they would count twice, so the error is the call's.</exception>
    internal PbTuple? UnjellyTypedTuple(ref BananaReader reader, IUnjellyContext? context, TypedPlan?[] plans)
    {
        long mark = reader.Consumed;
        Start(context);
        int effects = _contextEffects;
        try
        {
            BananaToken list = Next(ref reader);
            if (list.Kind != BananaTokenKind.List || list.Count == 0 || JellyTags.Classify(Next(ref reader), out _) != JellyTag.Tuple)
            {
                reader.RewindTo(mark);
                return null;
            }
            int n = list.Count - 1;
            PbTuple tuple = PbTuple.CreateUnfilled(n, out object?[] slots);
            for (int i = 0; i < n; i++)
            {
                slots[i] = i < plans.Length && plans[i] is { } plan ? plan.Read(this, ref reader, 1) : ReadValue(ref reader, 1, 0, false);
            }
            return tuple;
        }
        catch (JellyException) when (_contextEffects == effects)
        {
            reader.RewindTo(mark);
            return null;
        }
        finally
        {
            Stop();
        }
    }

    /// <summary>Reads one value through <paramref name="plan"/>; null (and nothing consumed) when the typed read failed.</summary>
    internal bool TryUnjellyTyped(ref BananaReader reader, IUnjellyContext? context, TypedPlan plan, out object? value)
    {
        long mark = reader.Consumed;
        Start(context);
        int effects = _contextEffects;
        try
        {
            value = plan.Read(this, ref reader, 0);
            return true;
        }
        catch (JellyException) when (_contextEffects == effects)
        {
            reader.RewindTo(mark);
            value = null;
            return false;
        }
        finally
        {
            Stop();
        }
    }

    private void Start(IUnjellyContext? context)
    {
        if (_busy)
        {
            throw new InvalidOperationException("An Unjellier is not reentrant; use one per thread or per connection.");
        }
        _busy = true;
        _context = context;
    }

    private void Stop()
    {
        if (_references.Count > 0)
        {
            _references.Clear();
        }
        _context = null;
        _busy = false;
    }

    /// <summary>The generic read of one value, for a plan that gives way.</summary>
    internal object? ReadGeneric(ref BananaReader r, int depth) => ReadValue(ref r, depth, 0, false);

    /// <summary>A dict key: text through the key cache (no allocation on a hit); false, with the key in <paramref name="other"/>, for any other key (None included).</summary>
    internal bool ReadKey(ref BananaReader r, int depth, out string text, out object? other)
    {
        other = null;
        text = "";
        long mark = r.Consumed;
        BananaToken token = Next(ref r);
        if (token.Kind == BananaTokenKind.List && token.Count == 2 && r.TryReadUnicodeTag())
        {
            text = DecodeKey(ReadBytesArgument(ref r, 1, "unicode"));
            return true;
        }
        r.RewindTo(mark);
        object? key = ReadValue(ref r, depth, 0, hashed: true);
        if (key is string s)
        {
            text = s;
            return true;
        }
        other = key;
        return false;
    }

    internal static BananaToken NextToken(ref BananaReader r) => Next(ref r);

    // The member arrays of the record type read last, reused from one record to the next (a list of 1000 records).
    private RecordShape? _scratchShape;
    private object?[] _scratchValues = [];
    private long[] _scratchScalars = [];
    private bool[] _scratchPresent = [];

    /// <summary>A builder for one value of <paramref name="shape"/> over this unjellier's reused arrays (not for nested values).</summary>
    internal RecordShape.Builder ScratchBuilder(RecordShape shape)
    {
        if (_scratchShape != shape)
        {
            _scratchShape = shape;
            _scratchValues = new object?[shape.Members.Length];
            _scratchScalars = new long[shape.Members.Length];
            _scratchPresent = new bool[shape.Members.Length];
        }
        return shape.StartReading(_scratchValues, _scratchScalars, _scratchPresent);
    }

    internal static string Utf8(in BananaToken bytes) => DecodeUtf8(bytes);
}

/// <summary>How one .NET type is read straight from the tokens; built once per type.</summary>
internal abstract class TypedPlan(Type type)
{
    private static readonly ConcurrentDictionary<Type, TypedPlan?> s_plans = new();

    public Type Type { get; } = type;

    /// <summary>Reads one value of <see cref="Type"/> (or what the generic read makes of it, converted).</summary>
    public abstract object? Read(Unjellier u, ref BananaReader r, int depth);

    /// <summary>A plan for <paramref name="type"/> when reading it typed can win: typed values and sequences of them; else null.</summary>
    public static TypedPlan? For(Type type) => s_plans.GetOrAdd(type, static t => Worthwhile(t) ? Make(t) : null);

    private static bool Worthwhile(Type t) =>
        RecordShape.ForReading(t) is not null || (ElementType(t) is { } e && Worthwhile(e));

    private static Type? ElementType(Type t)
    {
        if (t.IsArray && t.GetArrayRank() == 1)
        {
            return t.GetElementType();
        }
        if (t.IsGenericType)
        {
            Type def = t.GetGenericTypeDefinition();
            if (def == typeof(List<>) || def == typeof(IList<>) || def == typeof(ICollection<>) || def == typeof(IEnumerable<>)
                || def == typeof(IReadOnlyList<>) || def == typeof(IReadOnlyCollection<>))
            {
                return t.GetGenericArguments()[0];
            }
        }
        return null;
    }

    /// <summary>The plan for any member type: typed where it pays, scalar fast paths, else generic and converted.</summary>
    internal static TypedPlan Make(Type t)
    {
        if (t == typeof(long) || t == typeof(int) || t == typeof(double) || t == typeof(string) || t == typeof(bool))
        {
            return new ScalarPlan(t);
        }
        if (RecordShape.ForReading(t) is { } shape)
        {
            return new RecordPlan(shape);
        }
        if (ElementType(t) is { } element && (RecordShape.ForReading(element) is not null || ElementType(element) is not null
            || element == typeof(long) || element == typeof(double) || element == typeof(string)))
        {
            return (TypedPlan)Activator.CreateInstance(typeof(ListPlan<>).MakeGenericType(element), t)!;
        }
        return new GenericPlan(t);
    }

    /// <summary>Reads generically from <paramref name="mark"/> (where the value started) and converts.</summary>
    protected object? GiveWay(Unjellier u, ref BananaReader r, long mark, int depth)
    {
        r.RewindTo(mark);
        return JellyConvert.To(u.ReadGeneric(ref r, depth), Type);
    }
}

internal sealed class GenericPlan(Type type) : TypedPlan(type)
{
    public override object? Read(Unjellier u, ref BananaReader r, int depth)
    {
        object? value = u.ReadGeneric(ref r, depth);
        return Type == typeof(object) ? value : JellyConvert.To(value, Type);
    }
}

/// <summary>long, int, double, bool and string: the token itself, no boxed intermediate of another type.</summary>
internal sealed class ScalarPlan(Type type) : TypedPlan(type)
{
    public override object? Read(Unjellier u, ref BananaReader r, int depth)
    {
        long mark = r.Consumed;
        BananaToken token = Unjellier.NextToken(ref r);
        switch (token.Kind)
        {
            case BananaTokenKind.Integer when !token.IsBigInteger:
                if (Type == typeof(long))
                {
                    return token.Int64;
                }
                if (Type == typeof(int) && token.Int64 is >= int.MinValue and <= int.MaxValue)
                {
                    return (int)token.Int64;
                }
                if (Type == typeof(double))
                {
                    return (double)token.Int64; // an integral float may travel as an int (Python's 1.0 does not; JavaScript's does)
                }
                break;
            case BananaTokenKind.Float when Type == typeof(double):
                return token.Float;
            case BananaTokenKind.List when token.Count == 2 && Type == typeof(string) && r.TryReadUnicodeTag():
                BananaToken text = Unjellier.NextToken(ref r);
                if (text.Kind == BananaTokenKind.Bytes)
                {
                    return Unjellier.Utf8(text);
                }
                break;
        }
        return GiveWay(u, ref r, mark, depth);
    }
}

/// <summary>A list of <typeparamref name="T"/> read element by element through the element's plan.</summary>
internal sealed class ListPlan<T>(Type type) : TypedPlan(type)
{
    private readonly TypedPlan _element = Make(typeof(T));
    private readonly bool _array = type.IsArray;

    public override object? Read(Unjellier u, ref BananaReader r, int depth)
    {
        long mark = r.Consumed;
        BananaToken list = Unjellier.NextToken(ref r);
        if (list.Kind != BananaTokenKind.List || list.Count == 0 || depth + 1 > r.Limits.MaxDepth
            || JellyTags.Classify(Unjellier.NextToken(ref r), out _) != JellyTag.List)
        {
            return GiveWay(u, ref r, mark, depth);
        }
        int n = list.Count - 1;
        if (_array)
        {
            var array = new T[Math.Min(n, (int)Math.Min(int.MaxValue, r.Remaining))];
            if (array.Length != n)
            {
                throw new JellyException("The jelly expression ends early: it is incomplete.");
            }
            for (int i = 0; i < n; i++)
            {
                array[i] = (T)_element.Read(u, ref r, depth + 1)!;
            }
            return array;
        }
        var items = new List<T>(Math.Min(n, (int)Math.Min(int.MaxValue, r.Remaining)));
        for (int i = 0; i < n; i++)
        {
            items.Add((T)_element.Read(u, ref r, depth + 1)!);
        }
        return items;
    }
}

/// <summary>A typed value's dict: each key's member read through its own plan, then the compiled constructor.</summary>
internal sealed partial class RecordPlan(RecordShape shape) : TypedPlan(shape.Type)
{
    private TypedPlan[]? _members;

    private byte[][]? _keys;

    public override object? Read(Unjellier u, ref BananaReader r, int depth)
    {
        if (r.TryGetRest(out ReadOnlySpan<byte> rest) && depth + 1 <= r.Limits.MaxDepth && FastRead(u, rest, r.Dialect, r.Limits.MaxItemLength, out object? fast, out int used))
        {
            r.Advance(used);
            return fast;
        }
        long mark = r.Consumed;
        BananaToken list = Unjellier.NextToken(ref r);
        if (list.Kind != BananaTokenKind.List || list.Count == 0 || depth + 1 > r.Limits.MaxDepth
            || JellyTags.Classify(Unjellier.NextToken(ref r), out _) != JellyTag.Dictionary)
        {
            return GiveWay(u, ref r, mark, depth);
        }
        // Built on first use: a record may contain itself (a tree of nodes), so plans cannot all be made up front.
        TypedPlan[] members = _members ??= [.. shape.Members.Select(m => Make(m.Type))];
        var reader = shape.StartReading();
        int n = list.Count - 1;
        for (int i = 0; i < n; i++)
        {
            BananaToken entry = Unjellier.NextToken(ref r);
            if (entry.Kind != BananaTokenKind.List || entry.Count != 2)
            {
                throw new JellyException("A dictionary entry must be a list of a key and a value.");
            }
            int index = u.ReadKey(ref r, depth + 2, out string key, out object? other) ? shape.IndexOf(key) : shape.BadKey(other);
            if (index < 0)
            {
                // An unknown key (ignored unless refused): its value is read and dropped.
                u.ReadGeneric(ref r, depth + 2);
                continue;
            }
            reader.Set(index, members[index].Read(u, ref r, depth + 2));
        }
        return reader.Finish();
    }
}

/// <summary>
/// The common shape read straight from the bytes: a dict whose keys are the members' names as text and whose values
/// are numbers, text, booleans or None. Anything else (another key, a nested value, a vocabulary-compressed string)
/// answers false having consumed nothing, and the token reader takes over; so does anything malformed, which the
/// token reader then reports.
/// </summary>
internal sealed partial class RecordPlan
{
    private static readonly System.Text.UTF8Encoding s_strictUtf8 = new(false, true);
    private static readonly byte[] s_dictionaryTagPb = [0x05, BananaTypeByte.Vocab];
    private static readonly byte[] s_dictionaryTagNone = [0x0a, BananaTypeByte.String, .. "dictionary"u8];

    private bool FastRead(Unjellier u, ReadOnlySpan<byte> s, BananaDialect dialect, int maxItemLength, out object? value, out int used)
    {
        value = null;
        used = 0;
        RecordShape.Member[] members = shape.Members;
        byte[][] keys = _keys ??= [.. members.Select(m => System.Text.Encoding.UTF8.GetBytes(m.Name))];
        JellyConstants constants = JellyConstants.For(dialect);
        // Each member's fixed bytes ([key, ) as our writer and Twisted's write them: a record written member by member in
        // declaration order is read by comparing them, one entry after another, with no header parsed twice.
        RecordShape.Encoded? encoded = maxItemLength > shape.LongestFixedItem && Banana.BananaLimits.Default.MaxItemLength > shape.LongestFixedItem ? shape.EncodedFor(dialect, Banana.BananaLimits.Default) : null;
        int p = 0;
        ulong count;
        if (encoded is not null && s.StartsWith(encoded.Head))
        {
            count = (ulong)members.Length + 1;
            p = encoded.Head.Length;
        }
        else
        {
            if (!ScalarEntries.Header(s, ref p, out count, out byte type) || type != BananaTypeByte.List || count == 0 || count > (ulong)maxItemLength)
            {
                return false;
            }
            // the tag: VOCAB 5 in the pb dialect, the string "dictionary" in none
            ReadOnlySpan<byte> tag = dialect == BananaDialect.Pb ? s_dictionaryTagPb : s_dictionaryTagNone;
            if (!s[p..].StartsWith(tag))
            {
                return false;
            }
            p += tag.Length;
        }
        // Only scalars are read here, so no other record is built while this one is: the unjellier's arrays serve.
        RecordShape.Builder builder = u.ScratchBuilder(shape);
        int expected = 0;
        try
        {
            for (ulong i = 1; i < count; i++)
            {
                if (encoded is not null && expected < members.Length && s[p..].StartsWith(encoded.Prefixes[expected]))
                {
                    int at = p + encoded.Prefixes[expected].Length;
                    if (TakeExpected(ref builder, expected, members[expected], s, ref at, constants, maxItemLength))
                    {
                        p = at;
                        expected++;
                        continue;
                    }
                }
                if (!ScalarEntries.TryRead(s, ref p, constants, maxItemLength, out ScalarEntry entry))
                {
                    return false;
                }
                ReadOnlySpan<byte> key = entry.Key(s);
                // Members usually come in the order they were written: try the next one first.
                int index = expected < keys.Length && key.SequenceEqual(keys[expected]) ? expected : IndexOf(keys, key);
                if (index < 0 || !Take(ref builder, index, members[index], entry, s))
                {
                    return false;
                }
                expected = index + 1;
            }
            value = builder.Finish();
        }
        catch (JellyException)
        {
            return false; // a None where none is allowed, a missing member: the token reader says which
        }
        used = p;
        return true;
    }

    /// <summary>
    /// The value after member <paramref name="i"/>'s fixed bytes, read as that member's commonest encoding (a float for a
    /// double, an integer for a long or int, text for a string); false, with nothing set, for anything else, which the
    /// entry-by-entry read then handles.
    /// </summary>
    private static bool TakeExpected(ref RecordShape.Builder builder, int i, RecordShape.Member m, ReadOnlySpan<byte> s, ref int p, JellyConstants constants, int maxItemLength)
    {
        switch (m.Slot)
        {
            case RecordShape.MemberSlot.Double:
                if (p + 9 <= s.Length && s[p] == BananaTypeByte.Float)
                {
                    builder.SetDouble(i, System.Buffers.Binary.BinaryPrimitives.ReadDoubleBigEndian(s.Slice(p + 1, 8)));
                    p += 9;
                    return true;
                }
                return false;
            case RecordShape.MemberSlot.Int64:
            case RecordShape.MemberSlot.Int32:
                int q = p;
                if (ScalarEntries.TryReadInt(s, ref q, out long integer) && (m.Slot == RecordShape.MemberSlot.Int64 || integer is >= int.MinValue and <= int.MaxValue))
                {
                    builder.SetInteger(i, integer);
                    p = q;
                    return true;
                }
                return false;
            case RecordShape.MemberSlot.Object when m.Kind == RecordShape.MemberKind.String:
                ReadOnlySpan<byte> unicode = constants.UnicodePrefix;
                int t = p + unicode.Length;
                if (s[p..].StartsWith(unicode) && ScalarEntries.TryReadBytes(s, ref t, maxItemLength, out int start, out int length)
                    && TryDecodeText(s.Slice(start, length), out string? text))
                {
                    builder.Set(i, text);
                    p = t;
                    return true;
                }
                return false;
            default:
                return false;
        }
    }

    /// <summary>Strict UTF-8 (as Python's decode): false for invalid bytes, which the token reader then reports.</summary>
    private static bool TryDecodeText(ReadOnlySpan<byte> utf8, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? text)
    {
        try
        {
            text = s_strictUtf8.GetString(utf8);
            return true;
        }
        catch (System.Text.DecoderFallbackException)
        {
            text = null;
            return false;
        }
    }

    private static int IndexOf(byte[][] keys, ReadOnlySpan<byte> key)
    {
        for (int i = 0; i < keys.Length; i++)
        {
            if (key.SequenceEqual(keys[i]))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Sets member <paramref name="i"/> from an entry's value, unboxed where it can be; false where the token reader must decide.</summary>
    private static bool Take(ref RecordShape.Builder builder, int i, RecordShape.Member m, in ScalarEntry entry, ReadOnlySpan<byte> s)
    {
        switch (entry.Kind, m.Slot)
        {
            case (ScalarKind.None, _):
                if (!m.AllowsNull)
                {
                    return false;
                }
                builder.Set(i, null);
                return true;
            case (ScalarKind.Float, RecordShape.MemberSlot.Double):
                builder.SetDouble(i, entry.Float(s));
                return true;
            case (ScalarKind.Int, RecordShape.MemberSlot.Double):
                builder.SetDouble(i, entry.Integer); // an integral float sent as an int (JavaScript peers)
                return true;
            case (ScalarKind.Int, RecordShape.MemberSlot.Int64):
            case (ScalarKind.Int, RecordShape.MemberSlot.Int32) when entry.Integer is >= int.MinValue and <= int.MaxValue:
                builder.SetInteger(i, entry.Integer);
                return true;
            case (ScalarKind.True or ScalarKind.False, RecordShape.MemberSlot.Boolean):
                builder.SetBoolean(i, entry.Kind == ScalarKind.True);
                return true;
            case (ScalarKind.Text, RecordShape.MemberSlot.Object) when m.Kind == RecordShape.MemberKind.String:
                if (!TryDecodeText(entry.Text(s), out string? text))
                {
                    return false;
                }
                builder.Set(i, text);
                return true;
            default:
                return false;
        }
    }
}
