using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Pb.Banana;

namespace Pb.Jelly;

/// <summary>
/// Turns jelly read from a <see cref="BananaReader"/> into .NET values, accepting only the safe built-in
/// types and the types registered on <see cref="JellyOptions.Types"/>. Reusable per connection; not thread-safe.
/// </summary>
/// <remarks>
/// <para>Results: <c>["None"]</c> is null; integers are <see cref="long"/> (or <see cref="BigInteger"/> beyond 64
/// bits); floats <see cref="double"/>; bare byte strings <see cref="byte"/>[]; <c>unicode</c> is <see cref="string"/>;
/// <c>list</c> is <see cref="List{T}"/> of object; <c>tuple</c> is <see cref="PbTuple"/>; <c>dictionary</c> is
/// <see cref="PbDictionary"/>; <c>set</c> is <see cref="HashSet{T}"/> with <see cref="PbEqualityComparer"/>;
/// <c>frozenset</c> is <see cref="PbFrozenSet"/>; <c>datetime</c>, <c>date</c>, <c>time</c>, <c>timedelta</c> are
/// <see cref="DateTime"/> (unspecified kind), <see cref="DateOnly"/>, <see cref="TimeOnly"/>, <see cref="TimeSpan"/>;
/// <c>decimal</c> is <see cref="decimal"/>, or <see cref="PbDecimal"/> when <see cref="decimal"/> cannot hold it exactly; <c>unpersistable</c> and <c>persistent</c> are <see cref="Unpersistable"/>.</para>
/// <para>Stricter than Twisted, deliberately: a <c>dereference</c> to an id that is never defined, a reference id
/// defined twice, and a date that does not fit the .NET type are errors (Twisted leaves a placeholder or
/// fails later). A Copyable whose state refers back to itself is rebuilt correctly (Twisted leaves a placeholder).</para>
/// </remarks>
public sealed partial class Unjellier
{
    private const int SmallIntMin = -16, SmallIntMax = 1023;
    private static readonly object[] s_smallInts = BuildSmallInts();
    private static readonly object s_true = true, s_false = false;
    private static readonly UTF8Encoding s_strictUtf8 = new(false, true);

    private readonly JellyOptions _options;
    private readonly Dictionary<long, Slot> _references = new();
    private bool _busy;
    private IUnjellyContext? _context;
    // Calls into the broker that leave something behind (a reference counted, a cache made): a typed read that made
    // any cannot give way to a second, generic read of the same bytes (that would count them twice).
    private int _contextEffects;

    /// <summary>Creates an unjellier.</summary>
    public Unjellier(JellyOptions? options = null) => _options = options ?? JellyOptions.Default;

    /// <summary>The options in force.</summary>
    public JellyOptions Options => _options;

    /// <summary>Reads one complete jelly expression.</summary>
    /// <exception cref="InsecureJellyException">A type tag is not allowed.</exception>
    /// <exception cref="JellyException">The expression is malformed or incomplete.</exception>
    public object? Unjelly(ref BananaReader reader) => Unjelly(ref reader, null);

    internal object? Unjelly(ref BananaReader reader, IUnjellyContext? context)
    {
        if (_busy)
        {
            throw new InvalidOperationException("An Unjellier is not reentrant; use one per thread or per connection.");
        }
        _busy = true;
        _context = context;
        try
        {
            return ReadValue(ref reader, 0, 0, hashed: false);
        }
        finally
        {
            if (_references.Count > 0)
            {
                _references.Clear();
            }
            _context = null;
            _busy = false;
        }
    }

    private static BananaToken Next(ref BananaReader r)
    {
        if (!r.TryReadToken(out BananaToken token))
        {
            throw new JellyException("The jelly expression ends early: it is incomplete.");
        }
        return token;
    }

    private object? ReadValue(ref BananaReader r, int depth, long pendingReference, bool hashed)
    {
        BananaToken token = Next(ref r);
        object? value;
        switch (token.Kind)
        {
            case BananaTokenKind.List:
                if (token.Count == 2 && pendingReference == 0 && depth < r.Limits.MaxDepth && r.TryReadUnicodeTag())
                {
                    // ["unicode", bytes], the commonest value and dictionary key there is: read without the general tag
                    // dispatch (keys through the key cache).
                    BananaToken text = ReadBytesArgument(ref r, 1, "unicode");
                    return hashed ? DecodeKey(text) : DecodeUtf8(text);
                }
                return ReadTagged(ref r, token.Count, depth + 1, pendingReference, hashed);
            case BananaTokenKind.Integer:
                value = token.IsBigInteger ? token.BigInteger : Box(token.Int64);
                break;
            case BananaTokenKind.Float:
                value = token.Float;
                break;
            default:
                value = token.ToArray();
                break;
        }
        if (pendingReference != 0)
        {
            Complete(pendingReference, value);
        }
        return value;
    }

    private static object Box(long value) =>
        value is >= SmallIntMin and <= SmallIntMax ? s_smallInts[value - SmallIntMin] : value;

    private object? ReadTagged(ref BananaReader r, int count, int depth, long pendingReference, bool hashed)
    {
        if (depth > r.Limits.MaxDepth)
        {
            throw BananaReader.DepthExceeded(r.Limits.MaxDepth);
        }
        if (count == 0)
        {
            throw new JellyException("An empty list is not a jelly expression: it has no type tag.");
        }
        BananaToken tagToken = Next(ref r);
        if (tagToken.Kind != BananaTokenKind.Bytes)
        {
            throw new JellyException($"A jelly list must start with a byte-string type tag, not {(tagToken.Kind == BananaTokenKind.List ? "a list" : "a number")}.");
        }
        JellyTag tag = JellyTags.Classify(tagToken, out ReadOnlySpan<byte> name);
        int n = count - 1;
        object? result;
        switch (tag)
        {
            case JellyTag.None:
                SkipItems(ref r, n, depth);
                result = null;
                break;
            case JellyTag.Unicode:
                result = hashed ? DecodeKey(ReadBytesArgument(ref r, n, "unicode")) : DecodeUtf8(ReadBytesArgument(ref r, n, "unicode"));
                break;
            case JellyTag.List:
            {
                var list = new List<object?>(Capacity(ref r, n));
                Register(pendingReference, list);
                for (int i = 0; i < n; i++)
                {
                    list.Add(ReadValue(ref r, depth, 0, false));
                }
                result = list;
                break;
            }
            case JellyTag.Tuple:
            {
                if (n == 0 && pendingReference == 0)
                {
                    result = PbTuple.Empty;
                    break;
                }
                PbTuple tuple = PbTuple.CreateUnfilled(n, out object?[] slots);
                Register(pendingReference, tuple);
                for (int i = 0; i < n; i++)
                {
                    slots[i] = ReadValue(ref r, depth, 0, false);
                }
                result = tuple;
                break;
            }
            case JellyTag.Dictionary:
            {
                if (pendingReference == 0 && depth + 2 < r.Limits.MaxDepth && r.TryGetRest(out ReadOnlySpan<byte> rest) && TryReadScalarDictionary(rest, n, r.Dialect, r.Limits.MaxItemLength, out PbDictionary? scalars, out int used))
                {
                    // The commonest dict of all (text keys, scalar values: a record), read from the bytes in one go.
                    r.Advance(used);
                    result = scalars;
                    break;
                }
                var dict = new PbDictionary(Capacity(ref r, n));
                Register(pendingReference, dict);
                for (int i = 0; i < n; i++)
                {
                    BananaToken entry = Next(ref r);
                    if (entry.Kind != BananaTokenKind.List || entry.Count != 2)
                    {
                        throw new JellyException("A dictionary entry must be a list of a key and a value.");
                    }
                    object? key = ReadValue(ref r, depth + 1, 0, hashed: true);
                    CheckHashable(key);
                    dict.SetUnchecked(key, ReadValue(ref r, depth + 1, 0, false));
                }
                result = dict;
                break;
            }
            default:
                // Everything but the four commonest tags lives apart: a smaller frame to set up on every call here.
                result = ReadRareTagged(ref r, tag, name, n, depth, pendingReference, hashed);
                break;
        }
        if (pendingReference != 0)
        {
            Complete(pendingReference, result);
        }
        return result;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private object? ReadRareTagged(ref BananaReader r, JellyTag tag, scoped ReadOnlySpan<byte> name, int n, int depth, long pendingReference, bool hashed)
    {
        object? result;
        switch (tag)
        {
            case JellyTag.Boolean:
            {
                BananaToken bytes = ReadBytesArgument(ref r, n, "boolean");
                ReadOnlySpan<byte> word = bytes.TryGetSpan(out ReadOnlySpan<byte> span) ? span : bytes.ToArray();
                result = word.SequenceEqual("true"u8) ? s_true : word.SequenceEqual("false"u8) ? s_false
                    : throw new JellyException("A boolean must be 'true' or 'false'.");
                break;
            }
            case JellyTag.Set:
            {
                var set = new HashSet<object?>(PbEqualityComparer.Instance);
                Register(pendingReference, set);
                ReadSetItems(ref r, n, depth, set);
                result = set;
                break;
            }
            case JellyTag.FrozenSet:
            {
                PbFrozenSet frozen = PbFrozenSet.CreateUnfilled(out HashSet<object?> items);
                Register(pendingReference, frozen);
                ReadSetItems(ref r, n, depth, items);
                result = frozen;
                break;
            }
            case JellyTag.DateTime:
            case JellyTag.Date:
            case JellyTag.Time:
            case JellyTag.TimeDelta:
                result = ParseTemporal(tag, ReadBytesArgument(ref r, n, JellyTags.Name(tag)));
                break;
            case JellyTag.Decimal:
            {
                if (n != 2)
                {
                    throw new JellyException("A decimal must have a coefficient and an exponent.");
                }
                BananaToken coefficient = Next(ref r), exponent = Next(ref r);
                if (coefficient.Kind != BananaTokenKind.Integer || exponent.Kind != BananaTokenKind.Integer)
                {
                    throw new JellyException("A decimal's coefficient and exponent must be integers.");
                }
                result = ToDecimal(coefficient.BigInteger, exponent);
                break;
            }
            case JellyTag.Reference:
            {
                if (n != 2)
                {
                    throw new JellyException("A reference must have an id and a value.");
                }
                long id = ReadReferenceId(ref r);
                if (_references.ContainsKey(id))
                {
                    throw DefinedTwice(id);
                }
                result = ReadValue(ref r, depth, id, hashed);
                break;
            }
            case JellyTag.Dereference:
            {
                if (n != 1)
                {
                    throw new JellyException("A dereference must have exactly one id.");
                }
                long id = ReadReferenceId(ref r);
                if (!_references.TryGetValue(id, out Slot slot))
                {
                    throw UndefinedReference(id);
                }
                if (hashed && !slot.Complete)
                {
                    throw IncompleteKey(id);
                }
                result = slot.Value;
                break;
            }
            case JellyTag.Unpersistable:
            {
                if (n != 1)
                {
                    throw new JellyException("An unpersistable must have exactly one reason.");
                }
                BananaToken reason = Next(ref r);
                result = new Unpersistable(reason.Kind == BananaTokenKind.Bytes ? Encoding.UTF8.GetString(reason.ToArray()) : "?");
                break;
            }
            case JellyTag.Persistent:
                SkipItems(ref r, n, depth);
                result = new Unpersistable("Persistent callback not found");
                break;
            case JellyTag.Remote:
            case JellyTag.Local:
            case JellyTag.Cached:
            case JellyTag.Lcache:
                if (_context is null)
                {
                    throw NeedsBroker(tag);
                }
                if (n != 1)
                {
                    throw new JellyException($"A {JellyTags.Name(tag)} must have exactly one id.");
                }
                BananaToken luid = Next(ref r);
                if (luid.Kind != BananaTokenKind.Integer || luid.IsBigInteger)
                {
                    throw new JellyException($"A {JellyTags.Name(tag)} id must be an integer.");
                }
                _contextEffects++;
                result = _context.Resolve(tag, luid.Int64);
                break;
            case JellyTag.Refused:
                throw Refused(name);
            default:
                result = ReadRegistered(ref r, name, n, depth, pendingReference);
                break;
        }
        return result;
    }

    private object ReadRegistered(ref BananaReader r, scoped ReadOnlySpan<byte> name, int n, int depth, long pendingReference)
    {
        CopyableType? type = _options.Types.Find(name);
        if (type is null)
        {
            string tag = Encoding.UTF8.GetString(name);
            int dot = tag.LastIndexOf('.');
            throw new InsecureJellyException(dot < 0
                ? $"b'{tag}' is not an allowed type. Register it on JellyOptions.Types to accept it."
                : $"Module {tag[..dot]} not allowed (in type {tag}). Register the type on JellyOptions.Types to accept it.", tag);
        }
        if (n == 2 && _context is not null && type.CreateBlank is not null)
        {
            // [tag, cacheId, state]: the first copy of a peer's Cacheable (PB-WIRE.md 3.7).
            BananaToken idToken = Next(ref r);
            if (idToken.Kind != BananaTokenKind.Integer || idToken.IsBigInteger)
            {
                throw new JellyException($"A cached {type.Tag} must have an integer cache id.");
            }
            _contextEffects++;
            object cache = _context.ReceiveCache(idToken.Int64, type);
            Register(pendingReference, cache);
            try
            {
                type.SetState!(cache, ReadValue(ref r, depth, 0, false));
            }
            catch (Exception e) when (e is not JellyException and not BananaException)
            {
                throw new JellyException($"Could not build a {type.Type.Name} from '{type.Tag}' state: {e.Message}", e);
            }
            return cache;
        }
        if (n != 1)
        {
            throw new JellyException($"A {type.Tag} must be [tag, state].");
        }
        try
        {
            if (type.CreateBlank is not null)
            {
                object obj = type.CreateBlank();
                Register(pendingReference, obj);
                type.SetState!(obj, ReadValue(ref r, depth, 0, false));
                return obj;
            }
            return type.Create!(ReadValue(ref r, depth, 0, false));
        }
        catch (Exception e) when (e is not JellyException and not BananaException)
        {
            throw new JellyException($"Could not build a {type.Type.Name} from '{type.Tag}' state: {e.Message}", e);
        }
    }

    private static JellyException DefinedTwice(long id) => new($"Reference {id} is defined twice.");

    private static JellyException UndefinedReference(long id) => new($"Dereference to reference {id}, which is not defined before it.");

    private static JellyException IncompleteKey(long id) =>
        new($"Reference {id} is used as a dictionary key or set element before it is complete.");

    private static InsecureJellyException NeedsBroker(JellyTag tag) =>
        new($"'{JellyTags.Name(tag)}' is only valid on a PB connection, where a broker resolves it.", JellyTags.Name(tag));

    private static InsecureJellyException Refused(ReadOnlySpan<byte> name)
    {
        string refused = Encoding.ASCII.GetString(name);
        return new($"b'{refused}' is not an allowed type.", refused);
    }

    private void ReadSetItems(ref BananaReader r, int n, int depth, HashSet<object?> items)
    {
        for (int i = 0; i < n; i++)
        {
            object? item = ReadValue(ref r, depth, 0, hashed: true);
            CheckHashable(item);
            items.Add(item);
        }
    }

    private static int Capacity(ref BananaReader r, int n) => (int)Math.Min(n, r.Remaining);

    private static long ReadReferenceId(ref BananaReader r)
    {
        BananaToken token = Next(ref r);
        if (token.Kind != BananaTokenKind.Integer || token.IsBigInteger || token.Int64 < 1)
        {
            throw new JellyException("A reference id must be a positive integer.");
        }
        return token.Int64;
    }

    private void Register(long id, object container)
    {
        if (id != 0)
        {
            _references[id] = new Slot(container, complete: false);
        }
    }

    private void Complete(long id, object? value) => _references[id] = new Slot(value, complete: true);

    private static void CheckHashable(object? key)
    {
        if (key is List<object?> or PbDictionary or HashSet<object?>)
        {
            throw new JellyException($"unhashable type: '{PbValueFormatter.PythonTypeName(key)}' cannot be a dictionary key or set element.");
        }
    }

    private static void SkipItems(ref BananaReader r, int n, int depth)
    {
        for (int i = 0; i < n; i++)
        {
            BananaToken token = Next(ref r);
            if (token.Kind == BananaTokenKind.List)
            {
                if (depth + 1 > r.Limits.MaxDepth)
                {
                    throw BananaReader.DepthExceeded(r.Limits.MaxDepth);
                }
                SkipItems(ref r, token.Count, depth + 1);
            }
        }
    }

    private static BananaToken ReadBytesArgument(ref BananaReader r, int n, string tag)
    {
        if (n != 1)
        {
            throw new JellyException($"A {tag} must have exactly one byte-string argument.");
        }
        BananaToken token = Next(ref r);
        if (token.Kind != BananaTokenKind.Bytes)
        {
            throw new JellyException($"A {tag} must have a byte-string argument.");
        }
        return token;
    }

    private static string DecodeUtf8(in BananaToken bytes)
    {
        try
        {
            return bytes.TryGetSpan(out ReadOnlySpan<byte> span) ? s_strictUtf8.GetString(span) : s_strictUtf8.GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException e)
        {
            throw new JellyException("A unicode value is not valid UTF-8.", e);
        }
    }

    /// <summary>
    /// The <paramref name="n"/> entries of a dict whose keys are all text and values all numbers, text, booleans or
    /// None, read straight from the bytes; false, with nothing consumed, at the first entry of any other shape (the
    /// token reader then reads the whole dict, and reports anything malformed).
    /// </summary>
    private bool TryReadScalarDictionary(ReadOnlySpan<byte> s, int n, BananaDialect dialect, int maxItemLength, out PbDictionary? dict, out int used)
    {
        dict = null;
        used = 0;
        if (n > 64)
        {
            return false; // big dicts are not records: leave them to the token reader
        }
        JellyConstants constants = JellyConstants.For(dialect);
        // First pass: every entry's shape, without allocating; then the values (text as strict UTF-8: an invalid one
        // gives way, and the token reader reports it).
        Span<ScalarEntry> entries = stackalloc ScalarEntry[n];
        int p = 0;
        for (int i = 0; i < n; i++)
        {
            if (!ScalarEntries.TryRead(s, ref p, constants, maxItemLength, out entries[i]))
            {
                return false;
            }
        }
        var result = new PbDictionary(n);
        try
        {
            foreach (ref readonly ScalarEntry entry in entries)
            {
                object? value = entry.Kind switch
                {
                    ScalarKind.Int => Box(entry.Integer),
                    ScalarKind.Float => entry.Float(s),
                    ScalarKind.Text => s_strictUtf8.GetString(entry.Text(s)),
                    ScalarKind.True => s_true,
                    ScalarKind.False => s_false,
                    _ => null,
                };
                result.SetUnchecked(DecodeKey(entry.Key(s)), value);
            }
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
        dict = result;
        used = p;
        return true;
    }

    // Dictionary keys repeat (every record of a list has the same field names), so short text keys are
    // remembered per unjellier, like property names in JSON readers: no allocation and no decoding on a hit.
    private const int KeyCacheSize = 64, MaxCachedKeyLength = 32;
    private readonly (byte[] Utf8, string Text)?[] _keyCache = new (byte[] Utf8, string Text)?[KeyCacheSize];

    private string DecodeKey(ReadOnlySpan<byte> span)
    {
        if (span.Length > MaxCachedKeyLength)
        {
            return s_strictUtf8.GetString(span);
        }
        int slot = span.Length == 0 ? 0 : (span.Length * 31 + span[0] * 7 + span[^1]) & (KeyCacheSize - 1);
        if (_keyCache[slot] is { } hit && hit.Utf8.AsSpan().SequenceEqual(span))
        {
            return hit.Text;
        }
        string text = s_strictUtf8.GetString(span);
        _keyCache[slot] = (span.ToArray(), text);
        return text;
    }

    private string DecodeKey(in BananaToken bytes)
    {
        if (!bytes.TryGetSpan(out ReadOnlySpan<byte> span) || span.Length > MaxCachedKeyLength)
        {
            return DecodeUtf8(bytes);
        }
        int slot = span.Length == 0 ? 0 : (span.Length * 31 + span[0] * 7 + span[^1]) & (KeyCacheSize - 1);
        if (_keyCache[slot] is { } hit && hit.Utf8.AsSpan().SequenceEqual(span))
        {
            return hit.Text;
        }
        string text = DecodeUtf8(bytes);
        _keyCache[slot] = (span.ToArray(), text);
        return text;
    }

    private static object ParseTemporal(JellyTag tag, in BananaToken bytes)
    {
        Span<long> f = stackalloc long[8];
        int count = ParseFields(bytes.TryGetSpan(out ReadOnlySpan<byte> span) ? span : bytes.ToArray(), f);
        try
        {
            switch (tag)
            {
                case JellyTag.DateTime when count is >= 3 and <= 7:
                    CheckMicros(f[6]);
                    return new DateTime(checked((int)f[0]), checked((int)f[1]), checked((int)f[2]), checked((int)f[3]),
                        checked((int)f[4]), checked((int)f[5]), DateTimeKind.Unspecified).AddTicks(f[6] * 10);
                case JellyTag.Date when count == 3:
                    return new DateOnly(checked((int)f[0]), checked((int)f[1]), checked((int)f[2]));
                case JellyTag.Time when count <= 4:
                    CheckMicros(f[3]);
                    return new TimeOnly(checked((int)f[0]), checked((int)f[1]), checked((int)f[2])).Add(TimeSpan.FromTicks(f[3] * 10));
                case JellyTag.TimeDelta when count <= 3:
                {
                    Int128 ticks = (Int128)f[0] * TimeSpan.TicksPerDay + (Int128)f[1] * TimeSpan.TicksPerSecond + (Int128)f[2] * 10;
                    if (ticks < TimeSpan.MinValue.Ticks || ticks > TimeSpan.MaxValue.Ticks)
                    {
                        throw new JellyException("A timedelta is out of the range of System.TimeSpan (about 10.6 million days).");
                    }
                    return TimeSpan.FromTicks((long)ticks);
                }
                default:
                    throw new JellyException($"A {JellyTags.Name(tag)} has the wrong number of fields ({count}).");
            }
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or OverflowException or ArgumentException)
        {
            throw new JellyException($"A {JellyTags.Name(tag)} has fields out of range: {e.Message}", e);
        }
    }

    private static void CheckMicros(long micros)
    {
        if (micros is < 0 or > 999_999)
        {
            throw new ArgumentOutOfRangeException(nameof(micros), "microsecond must be in 0..999999");
        }
    }

    /// <summary>Parses whitespace-separated decimal integers (Python's <c>map(int, s.split())</c>).</summary>
    private static int ParseFields(ReadOnlySpan<byte> text, Span<long> fields)
    {
        int count = 0, i = 0;
        while (true)
        {
            while (i < text.Length && IsSpace(text[i]))
            {
                i++;
            }
            if (i == text.Length)
            {
                return count;
            }
            if (count == fields.Length)
            {
                throw new JellyException("A date or time has too many fields.");
            }
            bool negative = false;
            if (text[i] is (byte)'-' or (byte)'+')
            {
                negative = text[i] == (byte)'-';
                i++;
            }
            int start = i;
            long value = 0;
            while (i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9')
            {
                if (i - start >= 15)
                {
                    throw new JellyException("A date or time field is too large.");
                }
                value = value * 10 + (text[i] - '0');
                i++;
            }
            if (i == start || (i < text.Length && !IsSpace(text[i])))
            {
                throw new JellyException("A date or time field is not an integer.");
            }
            fields[count++] = negative ? -value : value;
        }
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0b or 0x0c;

    private static readonly BigInteger s_decimalLimit = BigInteger.One << 96;

    /// <summary>
    /// A <see cref="decimal"/> when the value fits one (integral values with a positive exponent are scaled, as
    /// before), otherwise a <see cref="PbDecimal"/> that keeps the coefficient and exponent exactly as received.
    /// </summary>
    private static object ToDecimal(BigInteger coefficient, in BananaToken exponentToken)
    {
        if (exponentToken.IsBigInteger)
        {
            // Twisted fails here too (OverflowError: Python int too large to convert to C ssize_t).
            throw new JellyException("A decimal's exponent does not fit 64 bits.");
        }
        long exponent = exponentToken.Int64;
        if (coefficient.IsZero && exponent is >= -28 and <= 200)
        {
            // Decimal('0.00') keeps its scale; Decimal('0E+3') becomes 0m, as 1E+3 becomes 1000m.
            return new decimal(0, 0, 0, false, (byte)Math.Max(0, -exponent));
        }
        if (exponent is < -200 or > 200)
        {
            return new PbDecimal(coefficient, exponent);
        }
        BigInteger c = coefficient;
        long e = exponent;
        if (e > 0)
        {
            c *= BigInteger.Pow(10, (int)e);
            e = 0;
        }
        int scale = (int)-e;
        while (scale > 28 && c % 10 == 0)
        {
            c /= 10;
            scale--;
        }
        BigInteger magnitude = BigInteger.Abs(c);
        if (scale > 28 || magnitude >= s_decimalLimit)
        {
            return new PbDecimal(coefficient, exponent);
        }
        var bits = (UInt128)magnitude;
        return new decimal((int)(uint)bits, (int)(uint)(bits >> 32), (int)(uint)(bits >> 64), c.Sign < 0, (byte)scale);
    }

    private static object[] BuildSmallInts()
    {
        var boxes = new object[SmallIntMax - SmallIntMin + 1];
        for (int i = 0; i < boxes.Length; i++)
        {
            boxes[i] = (long)(i + SmallIntMin);
        }
        return boxes;
    }

    private readonly struct Slot(object? value, bool complete)
    {
        public object? Value { get; } = value;
        public bool Complete { get; } = complete;
    }
}
