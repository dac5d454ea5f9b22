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
