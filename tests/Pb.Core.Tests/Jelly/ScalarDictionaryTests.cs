using System.Buffers;
using System.Numerics;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Tests.Jelly;

/// <summary>
/// Dicts of text keys and scalar values are read straight from the bytes when a message is one span; the same bytes in
/// pieces go through the token reader. Both must give the same values and refuse the same input.
/// </summary>
public sealed class ScalarDictionaryTests
{
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    private static ReadOnlySequence<byte> InPieces(byte[] data, int size)
    {
        Segment? first = null, last = null;
        for (int i = 0; i < data.Length; i += size)
        {
            var next = new Segment(data.AsMemory(i, Math.Min(size, data.Length - i)), last);
            first ??= next;
            last = next;
        }
        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    private static string Read(ReadOnlySequence<byte> bytes, BananaDialect dialect)
    {
        try
        {
            return PbValueFormatter.Format(JellySerializer.Deserialize(bytes, dialect));
        }
        catch (JellyException e)
        {
            return "error: " + e.GetType().Name;
        }
    }

    private static void AssertSameBothWays(byte[] bytes, BananaDialect dialect)
    {
        string whole = Read(new ReadOnlySequence<byte>(bytes), dialect);
        string pieces = Read(InPieces(bytes, 3), dialect);
        Assert.Equal(pieces, whole);
    }

    [Theory]
    [InlineData(BananaDialect.Pb)]
    [InlineData(BananaDialect.None)]
    public void Random_scalar_dicts_read_the_same_whole_and_in_pieces(BananaDialect dialect)
    {
        var random = new Random(99);
        object?[] scalars = [0L, -1L, 1L, long.MaxValue, long.MinValue, (BigInteger)long.MaxValue * 4, 1e300, -0.0, double.NaN, 0.5, "", "list", "remote", "é😀", new string('z', 70), null, true, "None"u8.ToArray()];
        string[] keys = ["id", "name", "score", "list", "None", "é", "", new string('k', 40)];
        for (int round = 0; round < 500; round++)
        {
            var dict = new PbDictionary();
            int n = random.Next(0, 6);
            for (int i = 0; i < n; i++)
            {
                dict[keys[random.Next(keys.Length)]] = scalars[random.Next(scalars.Length)];
            }
            if (random.Next(8) == 0)
            {
                dict["nested"] = new List<object?> { 1L }; // not a scalar: the token reader reads the dict
            }
            AssertSameBothWays(JellySerializer.Serialize(new List<object?> { dict, dict.Count > 0 ? new PbDictionary(dict) : dict }, dialect), dialect);
        }
    }

    [Fact]
    public void Malformed_scalar_dicts_are_refused_as_the_token_reader_refuses_them()
    {
        byte[] good = JellySerializer.Serialize(new Dictionary<string, object?> { ["a"] = "text", ["b"] = 2L });
        int text = Array.IndexOf(good, (byte)'t');
        byte[] badUtf8 = (byte[])good.Clone();
        badUtf8[text] = 0xff;
        Assert.StartsWith("error", Read(new ReadOnlySequence<byte>(badUtf8), BananaDialect.Pb), StringComparison.Ordinal);
        AssertSameBothWays(badUtf8, BananaDialect.Pb);
        for (int cut = 1; cut < good.Length; cut++)
        {
            AssertSameBothWays(good[..cut], BananaDialect.Pb); // every truncation: the same error either way
        }
    }
}
