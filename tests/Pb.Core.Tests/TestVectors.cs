using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text.Json;

namespace Pb.Tests;

/// <summary>
/// Loads the golden vectors made with real Twisted 22.4 (copied from shared/protocol/vectors into
/// tests/TestVectors; regenerate with gen_vectors.py) and turns their byte-safe JSON trees into banana trees.
/// </summary>
internal static class TestVectors
{
    private static readonly Dictionary<string, JsonDocument> s_cache = new();

    public static JsonElement Load(string file)
    {
        lock (s_cache)
        {
            if (!s_cache.TryGetValue(file, out JsonDocument? doc))
            {
                string path = Path.Combine(AppContext.BaseDirectory, "TestVectors", file);
                doc = JsonDocument.Parse(File.ReadAllBytes(path));
                s_cache[file] = doc;
            }
            return doc.RootElement;
        }
    }

    public static IEnumerable<JsonElement> Section(string file, string section) =>
        Load(file).GetProperty(section).EnumerateArray();

    public static TheoryData<string> Names(string file, string section, Func<JsonElement, bool>? where = null)
    {
        var data = new TheoryData<string>();
        foreach (JsonElement v in Section(file, section))
        {
            if (where is null || where(v))
            {
                data.Add(v.GetProperty("name").GetString()!);
            }
        }
        return data;
    }

    public static JsonElement Find(string file, string section, string name) =>
        Section(file, section).First(v => v.GetProperty("name").GetString() == name);

    /// <summary>The byte-safe JSON encoding (see the "encoding" object of each vector file) to a banana tree.</summary>
    public static object? ToTree(JsonElement e, string? description = null)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Array:
                return e.EnumerateArray().Select(x => ToTree(x, description)).ToList();
            case JsonValueKind.String:
                return System.Text.Encoding.ASCII.GetBytes(e.GetString()!);
            case JsonValueKind.Number:
                return e.GetInt64();
            case JsonValueKind.Object:
                if (e.TryGetProperty("hex", out JsonElement hex))
                {
                    return Convert.FromHexString(hex.GetString()!);
                }
                if (e.TryGetProperty("int", out JsonElement i))
                {
                    BigInteger big = BigInteger.Parse(i.GetString()!, CultureInfo.InvariantCulture);
                    return big >= long.MinValue && big <= long.MaxValue ? (object)(long)big : big;
                }
                if (e.TryGetProperty("float", out JsonElement f))
                {
                    return ParseFloat(f.GetString()!);
                }
                if (e.TryGetProperty("bytes_summary", out JsonElement summary))
                {
                    return Regenerate(summary);
                }
                if (e.TryGetProperty("str", out _))
                {
                    throw new NotSupportedException("A Python str cannot be a banana value.");
                }
                break;
        }
        throw new NotSupportedException($"Unknown vector encoding: {e}");
    }

    public static readonly double PythonNaN = BitConverter.Int64BitsToDouble(0x7FF8_0000_0000_0000);

    public static double ParseFloat(string repr) => repr switch
    {
        "Infinity" => double.PositiveInfinity,
        "-Infinity" => double.NegativeInfinity,
        // The vectors write every NaN as "NaN"; their bytes show it is Python's float("nan"), 7ff8000000000000.
        "NaN" => PythonNaN,
        _ => double.Parse(repr, CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// Long byte strings are summarized in the vectors. The generator builds them as 655360 zero bytes or as
    /// bytes(i % 256 for i in range(n)); the SHA-256 in the summary proves which.
    /// </summary>
    private static byte[] Regenerate(JsonElement summary)
    {
        int length = summary.GetProperty("length").GetInt32();
        string sha = summary.GetProperty("sha256").GetString()!;
        byte[] zeros = new byte[length];
        if (Convert.ToHexStringLower(SHA256.HashData(zeros)) == sha)
        {
            return zeros;
        }
        byte[] ramp = new byte[length];
        for (int k = 0; k < length; k++)
        {
            ramp[k] = (byte)k;
        }
        if (Convert.ToHexStringLower(SHA256.HashData(ramp)) == sha)
        {
            return ramp;
        }
        throw new NotSupportedException($"Cannot regenerate summarized bytes of length {length}.");
    }

    /// <summary>Checks bytes against a *hex field, which is either hex or a {length, sha256, prefix_hex} summary.</summary>
    public static void AssertHex(JsonElement expected, ReadOnlySpan<byte> actual, string because)
    {
        if (expected.ValueKind == JsonValueKind.String)
        {
            Assert.True(expected.GetString() == Convert.ToHexStringLower(actual),
                $"{because}: expected {expected.GetString()}, got {Convert.ToHexStringLower(actual)}. If Twisted's output changed, regenerate tests/TestVectors with shared/protocol/gen_vectors.py.");
            return;
        }
        Assert.Equal(expected.GetProperty("length").GetInt32(), actual.Length);
        Assert.Equal(expected.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(actual)));
    }

    public static byte[] HexBytes(JsonElement hexField, object? treeIfSummarized = null)
    {
        if (hexField.ValueKind == JsonValueKind.String)
        {
            return Convert.FromHexString(hexField.GetString()!);
        }
        throw new NotSupportedException("summarized hex: encode the tree instead");
    }
}

/// <summary>Structural equality for banana trees (lists, integers, floats bit for bit, byte strings).</summary>
internal static class TreeAssert
{
    public static bool TreeEquals(object? a, object? b)
    {
        switch (a)
        {
            case List<object?> la when b is List<object?> lb:
                return la.Count == lb.Count && la.Zip(lb).All(p => TreeEquals(p.First, p.Second));
            case byte[] ba when b is byte[] bb:
                return ba.AsSpan().SequenceEqual(bb);
            case double da when b is double db:
                return BitConverter.DoubleToInt64Bits(da) == BitConverter.DoubleToInt64Bits(db) || (double.IsNaN(da) && double.IsNaN(db));
            case long or BigInteger when b is long or BigInteger:
                return ToBig(a) == ToBig(b);
            default:
                return false;
        }
    }

    private static BigInteger ToBig(object o) => o is long l ? l : (BigInteger)o;

    public static string Show(object? t) => t switch
    {
        List<object?> l => "[" + string.Join(", ", l.Select(Show)) + "]",
        byte[] b => b.Length > 40 ? $"bytes[{b.Length}]" : "b'" + Convert.ToHexStringLower(b) + "'",
        double d => d.ToString("R", CultureInfo.InvariantCulture) + "f",
        null => "null",
        _ => Convert.ToString(t, CultureInfo.InvariantCulture) ?? "?",
    };

    public static void Equal(object? expected, object? actual)
    {
        Assert.True(TreeEquals(expected, actual), $"expected {Show(expected)}\n  actual {Show(actual)}");
    }
}

/// <summary>Builds multi-segment sequences so parsers see items split across segments.</summary>
internal sealed class Segment : ReadOnlySequenceSegment<byte>
{
    public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

    public Segment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
        Next = next;
        return next;
    }

    public static ReadOnlySequence<byte> Split(byte[] data, params int[] cuts)
    {
        var points = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().ToList();
        if (points.Count == 0)
        {
            return new ReadOnlySequence<byte>(data);
        }
        int start = 0;
        Segment first = new(data.AsMemory(0, points[0]));
        Segment last = first;
        start = points[0];
        foreach (int p in points.Skip(1).Append(data.Length))
        {
            // copy each chunk so no two segments share memory, as with real network buffers
            last = last.Append(data.AsSpan(start, p - start).ToArray());
            start = p;
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
