using System.Buffers;
using System.Text.Json;
using Pb.Banana;

namespace Pb.Tests.Fuzzing;

/// <summary>
/// An in-process mutation fuzzer (no libFuzzer here): it mutates the golden vectors' wire bytes and feeds them to
/// a target, checking that every input ends in success or one of the documented errors, within a step bound and
/// an allocation bound. Inputs that produce an outcome not seen before join the corpus (outcome-guided, not
/// coverage-guided). Deterministic for a given seed.
/// </summary>
internal sealed class Fuzzer
{
    private readonly Random _random;
    private readonly List<byte[]> _corpus;
    private readonly HashSet<string> _outcomes = new(StringComparer.Ordinal);
    private const int MaxCorpus = 4096;
    private const int MaxInputLength = 64 * 1024;

    public Fuzzer(int seed, IEnumerable<byte[]> seeds)
    {
        _random = new Random(seed);
        _corpus = seeds.Where(s => s.Length > 0).ToList();
        if (_corpus.Count == 0)
        {
            throw new InvalidOperationException("no seeds");
        }
    }

    public int DistinctOutcomes => _outcomes.Count;

    public int CorpusSize => _corpus.Count;

    /// <summary>
    /// Runs <paramref name="count"/> inputs through <paramref name="target"/>, which returns the outcome's name and
    /// throws <see cref="FuzzFailure"/> for a broken property. Returns the first failure, or null.
    /// </summary>
    public FuzzFailure? Run(long count, Func<byte[], string> target)
    {
        foreach (byte[] seed in _corpus.ToArray())
        {
            // Seeds first, unmutated (this also pays one-time costs before any measured input).
            FuzzFailure? f = RunOne(seed, target);
            if (f is not null)
            {
                return f;
            }
        }
        for (long i = 0; i < count; i++)
        {
            FuzzFailure? f = RunOne(Mutate(), target);
            if (f is not null)
            {
                return f;
            }
        }
        return null;
    }

    private FuzzFailure? RunOne(byte[] input, Func<byte[], string> target, bool retried = false)
    {
        string outcome;
        try
        {
            outcome = target(input);
        }
        catch (FuzzFailure failure) when (failure.IsAllocation && !retried)
        {
            // One-time costs (a method table built, a type's first exception, a lazily compiled accessor) land
            // on whichever input first takes that path: the bound is for what an input costs every time.
            return RunOne(input, target, retried: true);
        }
        catch (FuzzFailure failure)
        {
            failure.Input = input;
            return failure;
        }
        catch (Exception e)
        {
            return new FuzzFailure($"unexpected {e.GetType().FullName}: {e}") { Input = input };
        }
        if (_outcomes.Add(outcome) && _corpus.Count < MaxCorpus && input.Length <= MaxInputLength / 4)
        {
            _corpus.Add(input);
        }
        return null;
    }

    private byte[] Pick() => _corpus[_random.Next(_corpus.Count)];

    private byte[] Mutate()
    {
        var data = new List<byte>(Pick());
        int rounds = 1 + _random.Next(4);
        for (int r = 0; r < rounds; r++)
        {
            MutateOnce(data);
        }
        if (data.Count > MaxInputLength)
        {
            data.RemoveRange(MaxInputLength, data.Count - MaxInputLength);
        }
        return data.ToArray();
    }

    private void MutateOnce(List<byte> d)
    {
        int at = d.Count == 0 ? 0 : _random.Next(d.Count + 1);
        switch (_random.Next(11))
        {
            case 0: // bit flip
                if (d.Count > 0)
                {
                    int i = _random.Next(d.Count);
                    d[i] ^= (byte)(1 << _random.Next(8));
                }
                break;
            case 1: // insert a byte
                d.Insert(at, (byte)_random.Next(256));
                break;
            case 2: // delete a range
                if (d.Count > 0)
                {
                    int i = _random.Next(d.Count);
                    d.RemoveRange(i, Math.Min(d.Count - i, 1 + _random.Next(8)));
                }
                break;
            case 3: // splice: our head, another input's tail
            {
                byte[] other = Pick();
                int cut = _random.Next(other.Length + 1);
                d.RemoveRange(Math.Min(at, d.Count), d.Count - Math.Min(at, d.Count));
                d.AddRange(other.AsSpan(cut).ToArray());
                break;
            }
            case 4: // length-prefix tweak: rewrite the digits before a type byte
            {
                int t = FindTypeByte(d);
                if (t >= 0)
                {
                    int start = t;
                    while (start > 0 && d[start - 1] < 0x80)
                    {
                        start--;
                    }
                    d.RemoveRange(start, t - start);
                    byte[] digits = Digits(InterestingNumber());
                    d.InsertRange(start, digits);
                }
                break;
            }
            case 5: // type-byte tweak
            {
                int t = FindTypeByte(d);
                if (t >= 0)
                {
                    d[t] = (byte)(0x80 + _random.Next(9));
                }
                break;
            }
            case 6: // repeated list headers (nesting)
            {
                int n = 1 + _random.Next(_random.Next(2) == 0 ? 8 : 700);
                byte[] header = [.. Digits(1 + _random.Next(3)), BananaTypeByte.List];
                var block = new List<byte>(n * header.Length);
                for (int i = 0; i < n; i++)
                {
                    block.AddRange(header);
                }
                d.InsertRange(at, block);
                break;
            }
            case 7: // big header: many digits, at or past the 64-byte limit
            {
                int n = 50 + _random.Next(30);
                var block = new List<byte>(n + 1);
                for (int i = 0; i < n; i++)
                {
                    block.Add((byte)_random.Next(0x80));
                }
                block.Add((byte)(0x80 + _random.Next(8)));
                d.InsertRange(at, block);
                break;
            }
            case 8: // duplicate a chunk
                if (d.Count > 0)
                {
                    int i = _random.Next(d.Count);
                    int len = Math.Min(d.Count - i, 1 + _random.Next(64));
                    d.InsertRange(at, d.GetRange(i, len));
                }
                break;
            case 9: // insert a whole token: a random integer, string or vocabulary word
            {
                byte type = (byte)(0x80 + _random.Next(8));
                var block = new List<byte>(Digits(InterestingNumber()));
                block.Add(type);
                if (type == BananaTypeByte.String)
                {
                    int len = 0;
                    for (int i = 0, shift = 0; i < block.Count - 1 && shift < 28; i++, shift += 7)
                    {
                        len |= block[i] << shift;
                    }
                    for (int i = 0; i < Math.Clamp(len, 0, 32); i++)
                    {
                        block.Add((byte)('a' + _random.Next(26)));
                    }
                }
                d.InsertRange(at, block);
                break;
            }
            default: // overwrite a byte with an interesting value
                if (d.Count > 0)
                {
                    d[_random.Next(d.Count)] = s_interestingBytes[_random.Next(s_interestingBytes.Length)];
                }
                break;
        }
    }

    private static readonly byte[] s_interestingBytes = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0xff];

    private int FindTypeByte(List<byte> d)
    {
        if (d.Count == 0)
        {
            return -1;
        }
        int start = _random.Next(d.Count);
        for (int k = 0; k < d.Count; k++)
        {
            int i = (start + k) % d.Count;
            if (d[i] >= 0x80)
            {
                return i;
            }
        }
        return -1;
    }

    private long InterestingNumber() => _random.Next(8) switch
    {
        0 => 0,
        1 => _random.Next(4),
        2 => BananaLimits.TwistedSizeLimit + _random.Next(-2, 3),
        3 => 16 * 1024 * 1024 + _random.Next(-2, 3),
        4 => int.MaxValue + (long)_random.Next(-2, 3),
        5 => long.MaxValue - _random.Next(3),
        6 => 1L << _random.Next(63),
        _ => _random.Next(300),
    };

    /// <summary>Banana's base-128 prefix, least significant digit first.</summary>
    private static byte[] Digits(long value)
    {
        var list = new List<byte>();
        ulong v = (ulong)value;
        do
        {
            list.Add((byte)(v & 0x7f));
            v >>= 7;
        }
        while (v != 0);
        return list.ToArray();
    }

    /// <summary>Every wire-bytes field (names ending in "hex") of every golden vector file.</summary>
    public static List<byte[]> LoadSeeds()
    {
        var seeds = new List<byte[]>();
        string dir = Path.Combine(AppContext.BaseDirectory, "TestVectors");
        foreach (string file in Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal))
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(file));
            Collect(doc.RootElement, null, seeds);
        }
        return seeds;
    }

    private static void Collect(JsonElement e, string? name, List<byte[]> seeds)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    Collect(p.Value, p.Name, seeds);
                }
                break;
            case JsonValueKind.Array:
                foreach (JsonElement x in e.EnumerateArray())
                {
                    Collect(x, name, seeds);
                }
                break;
            case JsonValueKind.String when name is not null && name.EndsWith("hex", StringComparison.Ordinal):
                try
                {
                    byte[] bytes = Convert.FromHexString(e.GetString()!);
                    if (bytes.Length > 0)
                    {
                        seeds.Add(bytes);
                    }
                }
                catch (FormatException)
                {
                }
                break;
        }
    }

    /// <summary>Names an outcome: success, or the error's type and its message without numbers.</summary>
    public static string Outcome(Exception? e)
    {
        if (e is null)
        {
            return "ok";
        }
        var sb = new System.Text.StringBuilder(e.GetType().Name).Append(": ");
        foreach (char c in e.Message)
        {
            if (!char.IsAsciiDigit(c))
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>An input split into segments at <paramref name="cut"/>, to exercise the multi-segment paths.</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, int cut) => cut <= 0 || cut >= data.Length ? new ReadOnlySequence<byte>(data) : Segment.Split(data, cut);
}

/// <summary>A broken property (wrong exception type, too many steps, too much memory).</summary>
internal sealed class FuzzFailure(string message, bool isAllocation = false) : Exception(message)
{
    public bool IsAllocation { get; } = isAllocation;

    public byte[] Input { get; set; } = [];
}
