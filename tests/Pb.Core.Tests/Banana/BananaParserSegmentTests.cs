using System.Buffers;
using Pb.Banana;

namespace Pb.Tests.Banana;

/// <summary>
/// The frame scanner's segment edges: its fast loop hands tokens at a segment's end, long headers and atoms whose payload
/// runs into later segments to the careful path. Every cut of a message rich in those must give back exactly the message.
/// </summary>
public sealed class BananaParserSegmentTests
{
    private static byte[] Message()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new BananaWriter(output, BananaDialect.Pb);
        writer.WriteListHeader(8);
        writer.WriteBytes("message"u8);                 // a vocabulary word
        writer.WriteInt(300);                          // a two-digit header
        writer.WriteBytes(new byte[200]);              // a string with a two-digit header
        writer.WriteFloat(2.5);                        // a float: no header, 8 bytes of payload
        writer.WriteInt(long.MaxValue);                // a long header
        writer.WriteInt(-7);
        writer.WriteListHeader(2);
        writer.WriteBytes("x"u8);
        writer.WriteListHeader(0);
        writer.WriteBytes("tail"u8);
        writer.Flush();
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public void Every_cut_into_three_segments_gives_back_the_whole_message()
    {
        byte[] data = Message();
        byte[] twice = [.. data, .. data];
        for (int a = 1; a < twice.Length; a++)
        {
            foreach (int width in new[] { 1, 3, 9, 150 })
            {
                ReadOnlySequence<byte> buffer = Segment.Split(twice, a, a + width);
                var parser = new BananaParser(BananaDialect.Pb);
                Assert.True(parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> first), $"cut at {a}+{width}");
                Assert.Equal(data, first.ToArray());
                Assert.True(parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> second), $"cut at {a}+{width}");
                Assert.Equal(data, second.ToArray());
                Assert.Equal(0, buffer.Length);
            }
        }
    }

    [Fact]
    public void Arriving_in_pieces_the_message_completes_only_when_its_last_byte_is_there()
    {
        byte[] data = Message();
        foreach (int piece in new[] { 1, 2, 5, 64 })
        {
            var parser = new BananaParser(BananaDialect.Pb);
            var segments = new List<byte[]>();
            for (int offset = 0; offset < data.Length; offset += piece)
            {
                segments.Add(data.AsSpan(offset, Math.Min(piece, data.Length - offset)).ToArray());
                byte[] soFar = [.. segments.SelectMany(s => s)];
                int[] cuts = [.. Enumerable.Range(1, segments.Count - 1).Select(i => i * piece)];
                ReadOnlySequence<byte> buffer = Segment.Split(soFar, cuts);
                bool complete = parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item);
                Assert.Equal(soFar.Length == data.Length, complete);
                if (complete)
                {
                    Assert.Equal(data, item.ToArray());
                }
                else
                {
                    Assert.Equal(soFar.Length, buffer.Length); // nothing consumed while incomplete
                }
            }
        }
    }
}
