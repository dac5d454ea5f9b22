using Pb.Tests;
using System.Numerics;
using System.Text;
using Pb.Jelly;

namespace Pb.Interop.Tests;

/// <summary>
/// Random values of every .NET type jelly maps to a Python built-in, nested up to <see cref="MaxDepth"/> containers,
/// with shared sub-objects and the occasional cycle. Deterministic for a seed. Sets hold only small non-negative
/// longs, inserted in ascending order, which is the order Python iterates them in, so Twisted's re-jellied bytes
/// can be compared byte for byte.
/// </summary>
internal sealed class RandomJellyValues(int seed)
{
    private const int MaxDepth = 6;

    private static readonly BigInteger s_intBound = BigInteger.Pow(2, 448);

    private static readonly double[] s_specialFloats =
    [
        0.0, -0.0, 1.0, -1.5, 0.1, 1.0 / 3, double.Epsilon, -double.Epsilon, 2.2250738585072014e-308, double.MaxValue,
        double.PositiveInfinity, double.NegativeInfinity, double.NaN, 1e15, 1e16, 123456789012345.6, 1234567890123456.0,
        12345678901234567.0, 1e-4, 1e-5, 0.00012345, 1e22, 1e23, Math.Pow(2, 53), Math.Pow(2, 63), -Math.Pow(2, 64), 1e300,
        BitConverter.Int64BitsToDouble(0x7ff0_0000_0000_0001), // a signalling NaN: its bits must survive
    ];

    private static readonly string[] s_ascii = [.. Enumerable.Range(0x20, 0x7f - 0x20).Select(c => ((char)c).ToString()), "\t", "\n", "\r", "\0", "\x1b", "\x7f", "'", "\"", "\\"];
    private static readonly string[] s_accents = [.. "éèàùâêîôûëïüçñøåæœßÉÀÇÑÅØ".Select(c => c.ToString()), "e\u0301", "a\u0308"];
    private static readonly string[] s_nonPrintable = ["\x85", "\xa0", "\xad", "\u200b", "\u2028", "\u2029", "\u3000", "\ufeff", "\ue000"];
    private static readonly string[] s_vocabulary =
    [
        "None", "class", "dereference", "reference", "dictionary", "function", "instance", "list", "module", "persistent",
        "tuple", "unpersistable", "copy", "cache", "cached", "remote", "local", "lcache", "version", "login", "password",
        "challenge", "logged_in", "not_logged_in", "cachemessage", "message", "answer", "error", "decref", "decache", "uncache",
    ];

    private readonly Random _rng = new(seed);
    private readonly List<object> _shared = [];   // finished containers: reusing one makes a shared sub-object
    private readonly List<object> _hashable = []; // finished tuples and frozensets that can key a dictionary
    private readonly List<object> _open = [];     // lists and dictionaries still being filled: reusing one makes a cycle

    /// <summary>The next value: usually a container.</summary>
    public object? Next()
    {
        _shared.Clear();
        _hashable.Clear();
        _open.Clear();
        return _rng.NextDouble() < 0.85 ? Container(0) : Atom();
    }

    private T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];

    private int Length() => Pick([0, 1, 1, 2, 2, 3, 3, 4, 5, 7]);

    private object? Value(int depth)
    {
        double r = _rng.NextDouble();
        if (depth >= MaxDepth || r < 0.5)
        {
            return Atom();
        }
        if (r < 0.56 && _shared.Count > 0)
        {
            return Pick(_shared);
        }
        if (r < 0.57 && _open.Count > 0)
        {
            return Pick(_open);
        }
        return Container(depth);
    }

    private object Container(int depth)
    {
        object result;
        switch (_rng.Next(8))
        {
            case 0 or 1:
            {
                var list = new List<object?>();
                _open.Add(list);
                for (int i = Length(); i > 0; i--)
                {
                    list.Add(Value(depth + 1));
                }
                _open.RemoveAt(_open.Count - 1);
                result = list;
                break;
            }
            case 2 or 3:
            {
                int length = Length();
                var items = new object?[length];
                for (int i = 0; i < length; i++)
                {
                    items[i] = Value(depth + 1);
                }
                // Python's () is a singleton, so every empty tuple is the same object there.
                result = length == 0 ? PbTuple.Empty : new PbTuple(items);
                break;
            }
            case 4 or 5:
            {
                var dict = new PbDictionary();
                _open.Add(dict);
                for (int i = Length(); i > 0; i--)
                {
                    object? key = Key(depth + 1);
                    dict[key] = Value(depth + 1);
                }
                _open.RemoveAt(_open.Count - 1);
                result = dict;
                break;
            }
            case 6:
                result = new HashSet<object?>(SmallInts(), PbEqualityComparer.Instance);
                break;
            default:
                result = FrozenSet();
                break;
        }
        _shared.Add(result);
        return result;
    }

    private List<object?> SmallInts()
    {
        int count = Math.Min(Length(), 8);
        return Enumerable.Range(0, 8).OrderBy(_ => _rng.Next()).Take(count).Order().Select(i => (object?)(long)i).ToList();
    }

    private PbFrozenSet FrozenSet()
    {
        var result = new PbFrozenSet(SmallInts());
        _hashable.Add(result);
        return result;
    }

    private object? Key(int depth)
    {
        double r = _rng.NextDouble();
        if (r < 0.08 && _hashable.Count > 0)
        {
            return Pick(_hashable);
        }
        if (r < 0.18 && depth < MaxDepth)
        {
            int length = Length();
            var items = new object?[length];
            for (int i = 0; i < length; i++)
            {
                items[i] = Key(depth + 1);
            }
            PbTuple tuple = length == 0 ? PbTuple.Empty : new PbTuple(items);
            _hashable.Add(tuple);
            _shared.Add(tuple);
            return tuple;
        }
        if (r < 0.24)
        {
            PbFrozenSet frozen = FrozenSet();
            _shared.Add(frozen);
            return frozen;
        }
        return _rng.Next(8) switch
        {
            0 or 1 => Text(),
            2 => Bytes(),
            3 or 4 => Integer(),
            5 => Float(),
            6 => null,
            _ => _rng.Next(2) == 0,
        };
    }

    private object? Atom() => _rng.Next(14) switch
    {
        0 => null,
        1 => _rng.Next(2) == 0,
        2 or 3 => Integer(),
        4 or 5 => Float(),
        6 => Bytes(),
        7 or 8 => Text(),
        9 => Date().ToDateTime(Time()),
        10 => Date(),
        11 => Time(),
        12 => TimeDelta(),
        _ => Decimal(),
    };

    private object Integer()
    {
        BigInteger n = _rng.Next(8) switch
        {
            0 => _rng.Next(-20, 301),
            1 => BigInteger.Pow(2, 31) + _rng.Next(-3, 3),
            2 => BigInteger.Pow(2, 63) + _rng.Next(-3, 3),
            3 => BigInteger.Pow(128, _rng.Next(1, 10)) + _rng.Next(-1, 2),
            4 => s_intBound - 1 - _rng.Next(0, 3),
            5 => _rng.NextInt64(),
            6 => BigInteger.Pow(2, 53) + _rng.Next(-1, 2),
            _ => RandomBits(_rng.Next(1, 449)),
        };
        if (_rng.NextDouble() < 0.4)
        {
            n = -n;
        }
        // Values that fit are longs, as the unjellier returns them; a few stay BigInteger (same wire form).
        object boxed = n;
        if (n >= long.MinValue && n <= long.MaxValue && _rng.Next(8) != 0)
        {
            boxed = (long)n;
        }
        return boxed;
    }

    private BigInteger RandomBits(int bits)
    {
        byte[] bytes = new byte[(bits + 7) / 8 + 1];
        _rng.NextBytes(bytes);
        bytes[^1] = 0;
        return new BigInteger(bytes) & ((BigInteger.One << bits) - 1);
    }

    private double Float() => _rng.Next(4) switch
    {
        0 => Pick(s_specialFloats),
        1 => BitConverter.Int64BitsToDouble(_rng.NextInt64(long.MinValue, long.MaxValue)), // any bits, NaN payloads too
        2 => (_rng.NextDouble() * 2 - 1) * 1e6,
        _ => _rng.NextDouble() * Math.Pow(10, _rng.Next(-30, 31)) * (_rng.Next(2) == 0 ? 1 : -1),
    };

    private byte[] Bytes()
    {
        switch (_rng.Next(6))
        {
            case 0:
                return Encoding.ASCII.GetBytes(Pick(s_vocabulary));
            case 1:
                return [.. Enumerable.Range(0, 256).Select(b => (byte)b)];
            case 2:
            {
                byte[] bytes = new byte[_rng.Next(0, 41)];
                _rng.NextBytes(bytes);
                return bytes;
            }
            case 3:
                return Encoding.ASCII.GetBytes(Join(s_ascii, _rng.Next(0, 21)));
            case 4:
                return Pick<byte[]>([[], "'"u8.ToArray(), "\""u8.ToArray(), "'\""u8.ToArray(), "unicode"u8.ToArray(), "tuple "u8.ToArray(), [0x80, 0xff]]);
            default:
            {
                byte[] bytes = new byte[_rng.Next(120, 301)];
                _rng.NextBytes(bytes);
                return bytes;
            }
        }
    }

    private string Join(IReadOnlyList<string> pool, int count)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            sb.Append(Pick(pool));
        }
        return sb.ToString();
    }

    private string Text()
    {
        switch (_rng.Next(9))
        {
            case 0:
                return Pick(["None", "", "remote", "list", "tuple", "dictionary", "unicode", "version"]);
            case 1:
                return Join(s_ascii, _rng.Next(0, 31));
            case 2:
                return Join(s_accents, _rng.Next(1, 11));
            case 3:
                return string.Concat(Enumerable.Range(0, _rng.Next(1, 11)).Select(_ => (char)_rng.Next(0x4e00, 0xa000)));
            case 4:
                return string.Concat(Enumerable.Range(0, _rng.Next(1, 7)).Select(_ => char.ConvertFromUtf32(_rng.Next(6) switch
                {
                    0 => _rng.Next(0x1f600, 0x1f650),
                    1 => _rng.Next(0x1f300, 0x1f600),
                    2 => _rng.Next(0x1f900, 0x1fa00),
                    3 => 0x1f468,
                    4 => 0x200d,
                    _ => 0xfe0f,
                })));
            case 5:
                return Join([.. s_nonPrintable, .. s_ascii], _rng.Next(1, 9));
            case 6:
                return new string('x', _rng.Next(120, 201)) + "é";
            default:
            {
                string[][] pools = [s_ascii, s_accents, [((char)_rng.Next(0x4e00, 0xa000)).ToString()], ["\U0001F600", "\U0001F680"]];
                var sb = new StringBuilder();
                for (int i = _rng.Next(1, 16); i > 0; i--)
                {
                    sb.Append(Pick(Pick(pools)));
                }
                return sb.ToString();
            }
        }
    }

    private int Micros() => _rng.NextDouble() < 0.3 ? 0 : _rng.Next(0, 1_000_000);

    private DateOnly Date()
    {
        int year = _rng.Next(1, 10_000), month = _rng.Next(1, 13);
        return new DateOnly(year, month, _rng.Next(1, DateTime.DaysInMonth(year, month) + 1));
    }

    private TimeOnly Time()
    {
        int second = _rng.NextDouble() < 0.3 ? 0 : _rng.Next(0, 60);
        return new TimeOnly(_rng.Next(0, 24), _rng.Next(0, 60), second).Add(TimeSpan.FromTicks(Micros() * 10L));
    }

    private TimeSpan TimeDelta()
    {
        long days = _rng.NextDouble() < 0.7 ? _rng.Next(-999_999, 1_000_000) : _rng.Next(-2, 3);
        return TimeSpan.FromDays(days) + TimeSpan.FromSeconds(_rng.Next(0, 86_400)) + TimeSpan.FromTicks(Micros() * 10L);
    }

    private decimal Decimal()
    {
        // Any scale (0..28) and 96-bit coefficient. Never a negative zero: jelly drops its sign, as Twisted does.
        int bits = Pick([0, 1, 4, 10, 30, 53, 64, 80, 96, 96]);
        BigInteger coefficient = bits == 0 ? BigInteger.Zero : RandomBits(bits);
        var c = (UInt128)coefficient;
        bool negative = !coefficient.IsZero && _rng.NextDouble() < 0.4;
        return new decimal((int)(uint)c, (int)(uint)(c >> 32), (int)(uint)(c >> 64), negative, (byte)_rng.Next(0, 29));
    }
}
