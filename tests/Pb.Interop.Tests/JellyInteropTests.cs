using System.Text.Json;
using Pb.Banana;
using Pb.Jelly;
using Pb.Tests;

namespace Pb.Interop.Tests;

/// <summary>
/// The live check beyond the golden vectors: a few hundred random values per seed go through real Twisted 22.4
/// (python/jelly_interop.py, run with /usr/bin/python3) in each direction, in both banana dialects.
/// </summary>
public sealed class JellyInteropTests
{
    private const string Script = "jelly_interop.py";
    private const int Count = 250;

    private static readonly BananaDialect[] s_dialects = [BananaDialect.Pb, BananaDialect.None];

    private static string Name(BananaDialect dialect) => dialect == BananaDialect.Pb ? "pb" : "none";

    /// <summary>
    /// Twisted to C#: random Python values (nested built-ins, shared sub-objects, cycles) jellied by Twisted decode to
    /// values whose Python repr is the original's, and jellying those again gives Twisted's bytes exactly.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Twisted_values_decode_to_the_same_value_and_encode_back_to_twisteds_bytes(int seed)
    {
        IReadOnlyList<JsonElement> lines = await TwistedScript.RunAsync(Script,
            ["generate", "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--count", Count.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            [], TestContext.Current.CancellationToken);
        Assert.Equal(Count, lines.Count);

        var failures = new Failures($"jelly_interop.py generate --seed {seed}");
        foreach (JsonElement line in lines)
        {
            int index = line.GetProperty("index").GetInt32();
            if (line.TryGetProperty("error", out JsonElement error))
            {
                failures.Add($"value {index}: Twisted could not jelly it: {error.GetString()}");
                continue;
            }
            string twistedRepr = line.GetProperty("repr").GetString()!;
            foreach (BananaDialect dialect in s_dialects)
            {
                byte[] twisted = Convert.FromHexString(line.GetProperty(Name(dialect)).GetString()!);
                string where = $"value {index}, dialect {Name(dialect)}, Twisted's bytes {Convert.ToHexStringLower(twisted)}";
                object? value;
                try
                {
                    value = JellySerializer.Deserialize(twisted, dialect);
                }
                catch (Exception e) when (e is JellyException or BananaException)
                {
                    failures.Add($"{where}: decoding failed: {e.Message}{Environment.NewLine}  Python repr: {twistedRepr}");
                    continue;
                }
                string ours = PyRepr.Of(value);
                byte[] again = JellySerializer.Serialize(value, dialect);
                if (ours != twistedRepr || !again.AsSpan().SequenceEqual(twisted))
                {
                    failures.Add($"{where}{Environment.NewLine}  our bytes      {Convert.ToHexStringLower(again)}" +
                        $"{Environment.NewLine}  Python repr: {twistedRepr}{Environment.NewLine}  our repr:    {ours}");
                }
            }
        }
        failures.AssertNone();
    }

    /// <summary>
    /// C# to Twisted: random .NET values jellied by Pb.Core are accepted by a Twisted broker's unjelly (default
    /// security), Twisted's repr of what it got is our PyRepr of what we sent, and Twisted jellies it back to our
    /// bytes exactly.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Values_jellied_in_csharp_are_what_twisted_unjellies_and_jellies_back(int seed)
    {
        var random = new RandomJellyValues(seed);
        var sent = new List<(object? Value, byte[] Pb, byte[] None)>();
        for (int i = 0; i < Count; i++)
        {
            object? value = random.Next();
            sent.Add((value, JellySerializer.Serialize(value, BananaDialect.Pb), JellySerializer.Serialize(value, BananaDialect.None)));
        }

        IReadOnlyList<JsonElement> lines = await TwistedScript.RunAsync(Script, ["check"],
            sent.Select((s, i) => TwistedScript.Request(i, s.Pb, s.None)), TestContext.Current.CancellationToken);
        Assert.Equal(Count, lines.Count);

        var failures = new Failures($"RandomJellyValues({seed})");
        foreach (JsonElement line in lines)
        {
            int index = line.GetProperty("index").GetInt32();
            (object? value, byte[] pb, byte[] none) = sent[index];
            string ours = PyRepr.Of(value);
            string where = $"value {index}: our pb bytes {Convert.ToHexStringLower(pb)}{Environment.NewLine}  our none bytes {Convert.ToHexStringLower(none)}";
            if (line.GetProperty("error").GetString() is { } error)
            {
                failures.Add($"{where}{Environment.NewLine}  Twisted error: {error}{Environment.NewLine}  our repr: {ours}");
                continue;
            }
            string twistedRepr = line.GetProperty("repr").GetString()!;
            string backPb = line.GetProperty("pb").GetString()!, backNone = line.GetProperty("none").GetString()!;
            if (ours != twistedRepr || backPb != Convert.ToHexStringLower(pb) || backNone != Convert.ToHexStringLower(none))
            {
                failures.Add($"{where}{Environment.NewLine}  Twisted's pb   {backPb}{Environment.NewLine}  Twisted's none {backNone}" +
                    $"{Environment.NewLine}  Python repr: {twistedRepr}{Environment.NewLine}  our repr:    {ours}");
            }
        }
        failures.AssertNone();
    }

    private static readonly string[] s_bigDecimals =
        ["1E+400", "1." + new string('1', 60), "-1E-500", "0E+500", "1E+200", "-" + new string('9', 40) + "E-100", "123.45", "1E-28", "1E-29"];

    /// <summary>
    /// Decimals beyond <see cref="decimal"/> (Python's have any precision and exponent): Twisted's bytes decode to a
    /// value with Twisted's repr and encode back byte for byte, and Twisted unjellies our bytes to the same value and
    /// jellies it back to them. Decimal('Infinity') and Decimal('NaN') are checked to be unsendable by Twisted 22.4
    /// itself (its banana cannot carry the 'F' text exponent; its jelly fails on NaN's empty digits).
    /// </summary>
    [Fact]
    public async Task Decimals_beyond_System_Decimal_round_trip_through_twisted_exactly()
    {
        string[] texts = [.. s_bigDecimals, "Infinity", "NaN"];
        IReadOnlyList<JsonElement> lines = await TwistedScript.RunAsync(Script, ["decimals"],
            texts.Select((t, i) => JsonSerializer.Serialize(new { index = i, text = t })), TestContext.Current.CancellationToken);
        Assert.Equal(texts.Length, lines.Count);
        var sent = new List<(string Repr, byte[] Pb, byte[] None)>();
        foreach (JsonElement line in lines)
        {
            int index = line.GetProperty("index").GetInt32();
            string repr = line.GetProperty("repr").GetString()!;
            if (texts[index] is "Infinity" or "NaN")
            {
                Assert.NotNull(line.GetProperty("error").GetString());
                continue;
            }
            Assert.Null(line.GetProperty("error").GetString());
            var bytes = new Dictionary<BananaDialect, byte[]>();
            foreach (BananaDialect dialect in s_dialects)
            {
                byte[] twisted = Convert.FromHexString(line.GetProperty(Name(dialect)).GetString()!);
                object? value = JellySerializer.Deserialize(twisted, dialect);
                Assert.Equal(repr, PyRepr.Of(value));
                Assert.Equal(Convert.ToHexStringLower(twisted), Convert.ToHexStringLower(JellySerializer.Serialize(value, dialect)));
                bytes[dialect] = JellySerializer.Serialize(value, dialect);
            }
            sent.Add((repr, bytes[BananaDialect.Pb], bytes[BananaDialect.None]));
        }
        Assert.IsType<PbDecimal>(JellySerializer.Deserialize(sent[0].Pb));

        IReadOnlyList<JsonElement> back = await TwistedScript.RunAsync(Script, ["check"],
            sent.Select((s, i) => TwistedScript.Request(i, s.Pb, s.None)), TestContext.Current.CancellationToken);
        Assert.Equal(sent.Count, back.Count);
        foreach (JsonElement line in back)
        {
            (string repr, byte[] pb, byte[] none) = sent[line.GetProperty("index").GetInt32()];
            Assert.Null(line.GetProperty("error").GetString());
            Assert.Equal(repr, line.GetProperty("repr").GetString());
            Assert.Equal(Convert.ToHexStringLower(pb), line.GetProperty("pb").GetString());
            Assert.Equal(Convert.ToHexStringLower(none), line.GetProperty("none").GetString());
        }
    }

    public sealed record Item(long Id, string Name, double Score);

    public sealed record Basket(string Owner, List<Item> Items, string? Note);

    /// <summary>
    /// Typed values are plain PB on the wire: real Twisted unjellies our records as ordinary dicts (its repr shows them)
    /// and jellies them back to the very same bytes, which read into the records again.
    /// </summary>
    [Fact]
    public async Task Twisted_reads_our_records_as_ordinary_dicts_and_sends_back_bytes_that_read_into_them()
    {
        var shared = new Item(2, "b\u00e9", 1.5);
        object?[] values =
        [
            new Item(1, "a", 0.5),
            new Basket("ann", [new Item(1, "a", 0.5), shared, shared], null),
            new List<Item> { new(7, "seven", -0.25), new(8, "", 1e300) },
        ];
        string[] reprs =
        [
            "{'id': 1, 'name': 'a', 'score': 0.5}",
            "{'owner': 'ann', 'items': [{'id': 1, 'name': 'a', 'score': 0.5}, {'id': 2, 'name': 'b\u00e9', 'score': 1.5}, {'id': 2, 'name': 'b\u00e9', 'score': 1.5}], 'note': None}",
            "[{'id': 7, 'name': 'seven', 'score': -0.25}, {'id': 8, 'name': '', 'score': 1e+300}]",
        ];
        var sent = values.Select(v => (Pb: JellySerializer.Serialize(v, BananaDialect.Pb), None: JellySerializer.Serialize(v, BananaDialect.None))).ToList();
        IReadOnlyList<JsonElement> back = await TwistedScript.RunAsync(Script, ["check"],
            sent.Select((s, i) => TwistedScript.Request(i, s.Pb, s.None)), TestContext.Current.CancellationToken);
        Assert.Equal(values.Length, back.Count);
        foreach (JsonElement line in back)
        {
            int i = line.GetProperty("index").GetInt32();
            Assert.Null(line.GetProperty("error").GetString());
            Assert.Equal(reprs[i], line.GetProperty("repr").GetString());
            Assert.Equal(Convert.ToHexStringLower(sent[i].Pb), line.GetProperty("pb").GetString());
            Assert.Equal(Convert.ToHexStringLower(sent[i].None), line.GetProperty("none").GetString());
        }
        byte[] twistedBasket = Convert.FromHexString(back.Single(l => l.GetProperty("index").GetInt32() == 1).GetProperty("pb").GetString()!);
        Basket basket = JellyConvert.To<Basket>(JellySerializer.Deserialize(twistedBasket));
        Assert.Equal(values[1] is Basket b ? b.Items : null, basket.Items);
        Assert.Null(basket.Note);
    }

    /// <summary>Counts mismatches and keeps the first, so one run says both how bad and what exactly.</summary>
    private sealed class Failures(string source)
    {
        private string? _first;
        private int _count;

        public void Add(string message)
        {
            _first ??= message;
            _count++;
        }

        public void AssertNone() =>
            Assert.True(_count == 0, $"{_count} mismatch(es) with Twisted ({source}); the first:{Environment.NewLine}{_first}");
    }
}
