using System.Buffers;
using System.Numerics;
using System.Text.Json;
using Pb.Banana;

namespace Pb.AspNetCore.Tests.Protocols;

/// <summary>pb.msgpack against Twisted's banana vectors, and what it refuses.</summary>
public sealed class PbMessagePackTranscoderTests
{
    private static readonly PbMessagePackTranscoder Transcoder = PbMessagePackTranscoder.Instance;

    private static JsonElement Vectors { get; } = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestVectors", "banana.json"))).RootElement;

    /// <summary>Every encode vector written out in full (the few summarized by hash are checked in Pb.Core.Tests).</summary>
    public static TheoryData<string> Names()
    {
        var names = new TheoryData<string>();
        foreach (JsonElement v in Vectors.GetProperty("encode").EnumerateArray())
        {
            if (v.GetProperty("pb_hex").ValueKind == JsonValueKind.String)
            {
                names.Add(v.GetProperty("name").GetString()!);
            }
        }
        return names;
    }

    private static byte[] ToMessagePack(byte[] banana)
    {
        var output = new ArrayBufferWriter<byte>();
        Transcoder.Encode(new ReadOnlySequence<byte>(banana), output);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] ToBanana(byte[] msgpack, BananaLimits? limits = null)
    {
        var output = new ArrayBufferWriter<byte>();
        Transcoder.Decode(new ReadOnlySequence<byte>(msgpack), output, limits ?? BananaLimits.Default);
        return output.WrittenSpan.ToArray();
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Twisteds_pb_bytes_come_back_as_twisteds_none_bytes(string name)
    {
        JsonElement v = Vectors.GetProperty("encode").EnumerateArray().First(e => e.GetProperty("name").GetString() == name);
        byte[] pb = Convert.FromHexString(v.GetProperty("pb_hex").GetString()!);
        byte[] none = Convert.FromHexString(v.GetProperty("none_hex").GetString()!);
        // Through MessagePack and back: vocabulary words come back spelled out, so the result is the "none" dialect's bytes.
        Assert.Equal(Convert.ToHexString(none), Convert.ToHexString(ToBanana(ToMessagePack(pb))));
        Assert.Equal(Convert.ToHexString(none), Convert.ToHexString(ToBanana(ToMessagePack(none))));
    }

    [Fact]
    public void A_version_message_is_the_documented_bytes()
    {
        byte[] banana = [0x02, 0x80, 0x07, 0x82, .. "version"u8, 0x06, 0x81];
        Assert.Equal("92A776657273696F6E06", Convert.ToHexString(ToMessagePack(banana)));
        // In the pb dialect "version" is VOCAB 19: the same MessagePack, the word spelled out.
        Assert.Equal("92A776657273696F6E06", Convert.ToHexString(ToMessagePack([0x02, 0x80, 19, 0x87, 0x06, 0x81])));
    }

    [Fact]
    public void Bytes_that_are_not_utf8_travel_as_binary_and_big_integers_as_the_extension()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new BananaWriter(output, BananaDialect.None);
        writer.WriteListHeader(4);
        writer.WriteBytes([0xff, 0xfe]);
        writer.WriteInt(BigInteger.Pow(2, 100));
        writer.WriteInt(-BigInteger.Pow(2, 447));
        writer.WriteInt(new BigInteger(ulong.MaxValue));
        writer.Flush();
        byte[] banana = output.WrittenSpan.ToArray();
        byte[] msgpack = ToMessagePack(banana);
        Assert.Equal("94C402FFFE", Convert.ToHexString(msgpack[..5]));          // array of 4, bin 8 of 2 bytes
        Assert.Equal(0xc7, msgpack[5]);                                         // ext 8 ...
        Assert.Equal(PbMessagePackTranscoder.BigIntegerExtension, (sbyte)msgpack[7]);
        Assert.Equal("CFFFFFFFFFFFFFFFFF", Convert.ToHexString(msgpack[^9..])); // 2**64-1 fits uint 64
        Assert.Equal(Convert.ToHexString(banana), Convert.ToHexString(ToBanana(msgpack)));
    }

    public static TheoryData<string, string, string> Refused => new()
    {
        { "nil", "C0", "Nil" },
        { "true", "C3", "Boolean" },
        { "a map", "80", "Map" },
        { "a timestamp extension", "D6FF00000000", "extension type -1" },
        { "an array claiming more items than bytes", "DD0000FFFF01", "malformed" },
        { "an array of 2 with 1 item", "929101", "malformed" },
        { "a truncated string", "A5616263", "malformed" },
        { "a 2-item array holding nil", "9201C0", "Nil" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void What_is_not_a_pb_value_is_refused_with_a_clear_error(string what, string hex, string expected)
    {
        var e = Assert.Throws<BananaException>(() => ToBanana(Convert.FromHexString(hex)));
        Assert.True(e.Message.Contains(expected, StringComparison.Ordinal), $"{what}: {e}");
    }

    [Fact]
    public void Limits_apply_before_anything_is_built()
    {
        var limits = new BananaLimits { MaxItemLength = 100, MaxDepth = 8 };
        byte[] deep = [.. Enumerable.Repeat((byte)0x91, 9), 0x01];
        Assert.Contains("MaxDepth", Assert.Throws<BananaException>(() => ToBanana(deep, limits)).Message, StringComparison.Ordinal);
        byte[] nested = [.. Enumerable.Repeat((byte)0x91, 8), 0x01];
        Assert.NotEmpty(ToBanana(nested, limits));
        byte[] longString = [0xd9, 101, .. new byte[101]];
        Assert.Contains("MaxItemLength", Assert.Throws<BananaException>(() => ToBanana(longString, limits)).Message, StringComparison.Ordinal);
        byte[] longArray = [0xdc, 0x00, 101, .. new byte[101]];
        Assert.Contains("MaxItemLength", Assert.Throws<BananaException>(() => ToBanana(longArray, limits)).Message, StringComparison.Ordinal);
    }
}
