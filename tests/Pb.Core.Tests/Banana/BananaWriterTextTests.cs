using System.Buffers;
using System.Text;
using Pb.Banana;

namespace Pb.Tests.Banana;

/// <summary>
/// <see cref="BananaWriter.WriteUtf8"/> has a one-pass path for short text; whatever path a text takes, its bytes are
/// those of its UTF-8 encoding written as a byte string (a VOCAB word in the pb dialect when the bytes are one), as
/// Twisted writes <c>text.encode("utf8")</c>.
/// </summary>
public sealed class BananaWriterTextTests
{
    public static TheoryData<string> Texts()
    {
        var data = new TheoryData<string>
        {
            "", "a", "id", "list", "None", "unpersistable", "unpersistablX", "not_logged_in", "dictionary", "unicode",
            "é", "日本語", "\ud800", "a\udc00b", "😀", "💡x", new string('x', 13), new string('x', 14), new string('x', 41),
            new string('x', 42), new string('x', 43), new string('日', 42), new string('日', 43), new string('é', 64),
            new string('x', 127), new string('x', 128), new string('日', 500),
        };
        var random = new Random(14);
        for (int i = 0; i < 40; i++)
        {
            var chars = new char[random.Next(0, 60)];
            for (int j = 0; j < chars.Length; j++)
            {
                chars[j] = (char)random.Next(0, 0x10000); // surrogates alone and in pairs included
            }
            data.Add(new string(chars));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Text_is_written_as_its_UTF8_bytes_in_either_dialect(string text)
    {
        foreach (BananaDialect dialect in new[] { BananaDialect.Pb, BananaDialect.None })
        {
            Assert.Equal(Reference(text, dialect, null), Written(text, dialect, null));
        }
    }

    [Fact]
    public void A_small_item_limit_still_refuses_short_text_past_it()
    {
        var limits = new BananaLimits { MaxItemLength = 100 };
        Assert.Equal(Reference("日本", BananaDialect.Pb, limits), Written("日本", BananaDialect.Pb, limits));
        Assert.Throws<BananaException>(() => Written(new string('日', 40), BananaDialect.Pb, limits)); // 120 bytes
    }

    private static byte[] Written(string text, BananaDialect dialect, BananaLimits? limits)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new BananaWriter(output, dialect, limits);
        writer.WriteInt(7); // not at the buffer's start
        writer.WriteUtf8(text);
        writer.WriteInt(8);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Reference(string text, BananaDialect dialect, BananaLimits? limits)
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new BananaWriter(output, dialect, limits);
        writer.WriteInt(7);
        writer.WriteBytes(Encoding.UTF8.GetBytes(text));
        writer.WriteInt(8);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }
}
