using System.Buffers;
using System.Numerics;
using System.Text.Json;
using Pb.Banana;

namespace Pb.Tests.Banana;

/// <summary>Every vector of banana.json, made with real Twisted 22.4.</summary>
public sealed class BananaVectorTests
{
    private const string File = "banana.json";

    public static TheoryData<string> EncodeNames => TestVectors.Names(File, "encode");
    public static TheoryData<string> DecodeOnlyNames => TestVectors.Names(File, "decode_only");
    public static TheoryData<string> IncompleteNames => TestVectors.Names(File, "incomplete");
    public static TheoryData<string> MalformedNames => TestVectors.Names(File, "malformed");

    internal static byte[] Encode(object? tree, BananaDialect dialect, BananaLimits? limits = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new BananaWriter(buffer, dialect, limits);
        writer.WriteTree(tree);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses every complete item; asserts nothing is left over.</summary>
    internal static List<object?> DecodeAll(ReadOnlySequence<byte> data, BananaDialect dialect, BananaLimits? limits = null)
    {
        var parser = new BananaParser(dialect, limits);
        var items = new List<object?>();
        while (parser.TryParse(ref data, out object? item))
        {
            items.Add(item);
        }
        Assert.Equal(0, data.Length);
        return items;
    }

    /// <summary>Feeds the bytes one at a time, as a pipe would: the parser sees the unconsumed bytes plus one more each time.</summary>
    internal static List<object?> DecodeByteByByte(byte[] data, BananaDialect dialect, BananaLimits? limits = null, bool expectAllConsumed = true)
    {
        var parser = new BananaParser(dialect, limits);
        var items = new List<object?>();
        int consumed = 0;
        for (int available = 1; available <= data.Length; available++)
        {
            var buffer = new ReadOnlySequence<byte>(data, consumed, available - consumed);
            long before = buffer.Length;
            while (parser.TryParse(ref buffer, out object? item))
            {
                items.Add(item);
            }
            consumed += (int)(before - buffer.Length);
        }
        Assert.Equal(expectAllConsumed ? data.Length : 0, consumed);
        return items;
    }

    [Theory]
    [MemberData(nameof(EncodeNames))]
    public void Encode_gives_twisteds_bytes_in_both_dialects(string name)
    {
        JsonElement v = TestVectors.Find(File, "encode", name);
        object? tree = TestVectors.ToTree(v.GetProperty("value"));
        TestVectors.AssertHex(v.GetProperty("none_hex"), Encode(tree, BananaDialect.None), $"{name} (none)");
        TestVectors.AssertHex(v.GetProperty("pb_hex"), Encode(tree, BananaDialect.Pb), $"{name} (pb)");
    }

    [Theory]
    [MemberData(nameof(EncodeNames))]
    public void Decode_gives_the_value_whole_split_and_byte_by_byte(string name)
    {
        JsonElement v = TestVectors.Find(File, "encode", name);
        object? tree = TestVectors.ToTree(v.GetProperty("value"));
        foreach (BananaDialect dialect in new[] { BananaDialect.None, BananaDialect.Pb })
        {
            // The summarized vectors are checked by hash above; the bytes are ours, proven equal to Twisted's.
            byte[] bytes = Encode(tree, dialect);
            TreeAssert.Equal(tree, Assert.Single(DecodeAll(new ReadOnlySequence<byte>(bytes), dialect)));
            TreeAssert.Equal(tree, Assert.Single(DecodeAll(Segment.Split(bytes, 1, bytes.Length / 3, bytes.Length / 2, bytes.Length - 1), dialect)));
            if (bytes.Length < 5000)
            {
                TreeAssert.Equal(tree, Assert.Single(DecodeByteByByte(bytes, dialect)));
            }
        }
    }

    [Theory]
    [MemberData(nameof(DecodeOnlyNames))]
    public void Lenient_inputs_decode_as_twisted_decodes_them(string name)
    {
        JsonElement v = TestVectors.Find(File, "decode_only", name);
        BananaDialect dialect = v.GetProperty("dialect").GetString() == "pb" ? BananaDialect.Pb : BananaDialect.None;
        byte[] bytes = Convert.FromHexString(v.GetProperty("hex").GetString()!);
        var expected = v.GetProperty("decoded").EnumerateArray().Select(e => TestVectors.ToTree(e)).ToList();

        List<object?> whole = DecodeAll(new ReadOnlySequence<byte>(bytes), dialect);
        List<object?> single = DecodeByteByByte(bytes, dialect);
        Assert.Equal(expected.Count, whole.Count);
        Assert.Equal(expected.Count, single.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            TreeAssert.Equal(expected[i], whole[i]);
            TreeAssert.Equal(expected[i], single[i]);
        }
    }

    [Theory]
    [MemberData(nameof(IncompleteNames))]
    public void Incomplete_inputs_wait_and_consume_nothing(string name)
    {
        JsonElement v = TestVectors.Find(File, "incomplete", name);
        byte[] bytes = Convert.FromHexString(v.GetProperty("hex").GetString()!);
        foreach (BananaDialect dialect in new[] { BananaDialect.None, BananaDialect.Pb })
        {
            var parser = new BananaParser(dialect);
            var buffer = new ReadOnlySequence<byte>(bytes);
            Assert.False(parser.TryParse(ref buffer, out _));
            Assert.Equal(bytes.Length, buffer.Length);
            Assert.Empty(DecodeByteByByte(bytes, dialect, expectAllConsumed: false));
        }
    }

    [Theory]
    [MemberData(nameof(MalformedNames))]
    public void Malformed_inputs_are_errors(string name)
    {
        JsonElement v = TestVectors.Find(File, "malformed", name);
        BananaDialect dialect = v.GetProperty("dialect").GetString() == "pb" ? BananaDialect.Pb : BananaDialect.None;
        byte[] bytes = Convert.FromHexString(v.GetProperty("hex").GetString()!);
        string twisted = v.GetProperty("twisted_error").GetString()!;

        var whole = Assert.Throws<BananaException>(() => DecodeAll(new ReadOnlySequence<byte>(bytes), dialect));
        var single = Assert.Throws<BananaException>(() => DecodeByteByByte(bytes, dialect));
        Assert.Equal(whole.Message, single.Message);

        // Same class of error as Twisted's, in words a reader can match to it.
        string expectedWords = twisted switch
        {
            _ when twisted.Contains("String too long", StringComparison.Ordinal) => "String too long",
            _ when twisted.Contains("List too long", StringComparison.Ordinal) => "List too long",
            _ when twisted.Contains("prefix", StringComparison.Ordinal) => "64 bytes",
            _ when twisted.Contains("Invalid Type Byte", StringComparison.Ordinal) => "Invalid Type Byte",
            _ when twisted.Contains("Invalid item for pb protocol", StringComparison.Ordinal) => "Invalid item for pb protocol",
            _ when twisted.Contains("KeyError", StringComparison.Ordinal) => "Unknown VOCAB index",
            _ => throw new InvalidOperationException("unmapped vector error " + twisted),
        };
        Assert.Contains(expectedWords, whole.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Encoder_refusals_match_twisteds()
    {
        var names = TestVectors.Section(File, "encoder_refusals").Select(v => v.GetProperty("name").GetString()).ToHashSet();
        BigInteger bound = BigInteger.Pow(2, 448);
        var refusals = new Dictionary<string, object?>
        {
            ["int 2**448"] = bound,
            ["int -(2**448)"] = -bound,
            ["bytes 655361"] = new byte[655361],
            ["list 655361"] = Enumerable.Repeat<object?>(0L, 655361).ToList(),
            ["str"] = "text",
            ["None"] = null,
            ["dict"] = new Dictionary<object, object>(),
        };
        Assert.Equal(names.Order(), refusals.Keys.Order());
        foreach ((string name, object? value) in refusals)
        {
            var ex = Assert.Throws<BananaException>(() => Encode(value, BananaDialect.Pb));
            Assert.False(string.IsNullOrEmpty(ex.Message), name);
        }
        // The largest values that are allowed still encode.
        Assert.Equal(65, Encode(bound - 1, BananaDialect.None).Length);
        Assert.Equal(65, Encode(-(bound - 1), BananaDialect.None).Length);
    }

    [Fact]
    public void Vocabulary_matches_twisteds_table()
    {
        JsonElement vocab = TestVectors.Load(File).GetProperty("constants").GetProperty("vocabulary");
        int count = 0;
        foreach (JsonProperty p in vocab.EnumerateObject())
        {
            int index = int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(BananaVocabulary.TryGetWord(index, out ReadOnlySpan<byte> word));
            Assert.Equal(p.Value.GetString(), System.Text.Encoding.ASCII.GetString(word));
            Assert.Equal(index, BananaVocabulary.IndexOf(word));
            count++;
        }
        Assert.Equal(BananaVocabulary.MaxIndex, count);
        Assert.Equal(0, BananaVocabulary.IndexOf("unicode"u8));
        Assert.Equal(0, BananaVocabulary.IndexOf("Nonf"u8));
        // Every word with one byte changed, with its first byte changed to another of the same low five bits
        // ("class" -> "Class"), one byte longer or shorter: a word only where that is another word ("cached" -> "cache").
        var words = new Dictionary<string, int>();
        for (int index = 1; index <= BananaVocabulary.MaxIndex; index++)
        {
            words[BananaVocabulary.GetWordText(index)] = index;
        }
        int Expected(byte[] bytes) => words.GetValueOrDefault(System.Text.Encoding.Latin1.GetString(bytes));
        int checkedCount = 0;
        foreach ((string text, int index) in words)
        {
            byte[] word = System.Text.Encoding.ASCII.GetBytes(text);
            List<byte[]> variants = [[.. word, (byte)'s'], word[..^1]];
            for (int at = 0; at < word.Length; at++)
            {
                foreach (byte flip in new byte[] { 0x01, 0x20, 0x80 })
                {
                    byte[] changed = [.. word];
                    changed[at] ^= flip;
                    variants.Add(changed);
                }
            }
            foreach (byte[] variant in variants)
            {
                Assert.Equal(Expected(variant), BananaVocabulary.IndexOf(variant));
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 500);
        Assert.Equal(14, BananaVocabulary.IndexOf("cache"u8));
        Assert.Equal(2, BananaVocabulary.IndexOf("class"u8));
        Assert.Equal(17, BananaVocabulary.IndexOf("local"u8));
        Assert.Equal(20, BananaVocabulary.IndexOf("login"u8));
        Assert.False(BananaVocabulary.TryGetWord(0, out _));
        Assert.False(BananaVocabulary.TryGetWord(32, out _));
    }

    [Fact]
    public void Constants_match_twisteds()
    {
        JsonElement c = TestVectors.Load(File).GetProperty("constants");
        Assert.Equal(BananaLimits.TwistedSizeLimit, c.GetProperty("SIZE_LIMIT").GetInt32());
        Assert.Equal(c.GetProperty("SIZE_LIMIT").GetInt32(), BananaLimits.Default.MaxItemLength);
        Assert.Equal(BananaLimits.HeaderLimit, c.GetProperty("prefix_limit_bytes").GetInt32());
    }

    [Fact]
    public void Negotiation_messages_are_twisteds()
    {
        TestVectors.AssertHex(TestVectors.Find(File, "encode", "dialect offer (server's first message)").GetProperty("none_hex"), BananaNegotiation.ServerOffer, "offer");
        TestVectors.AssertHex(TestVectors.Find(File, "encode", "dialect choice (client's first message)").GetProperty("none_hex"), BananaNegotiation.ChoosePb, "choice");

        object? offer = Assert.Single(DecodeAll(new ReadOnlySequence<byte>(BananaNegotiation.ServerOffer.ToArray()), BananaDialect.None));
        Assert.True(BananaNegotiation.TrySelect(offer, out BananaDialect chosen));
        Assert.Equal(BananaDialect.Pb, chosen);
        Assert.True(BananaNegotiation.TrySelect(new List<object?> { "xyz"u8.ToArray(), "none"u8.ToArray() }, out chosen));
        Assert.Equal(BananaDialect.None, chosen);
        Assert.False(BananaNegotiation.TrySelect(new List<object?> { "xyz"u8.ToArray() }, out _));
        Assert.False(BananaNegotiation.TrySelect("pb"u8.ToArray(), out _));

        Assert.Equal(BananaDialect.Pb, BananaNegotiation.ParseChoice("pb"u8.ToArray()));
        Assert.Equal(BananaDialect.None, BananaNegotiation.ParseChoice("none"u8.ToArray()));
        Assert.Throws<BananaException>(() => BananaNegotiation.ParseChoice("xyz"u8.ToArray()));
        Assert.Throws<BananaException>(() => BananaNegotiation.ParseChoice(new List<object?> { "pb"u8.ToArray() }));
    }
}
