using System.Buffers;
using Pb.Banana;

namespace Pb.Tests.Banana;

/// <summary>The limits Twisted has, the ones it lacks, and what they cost in memory.</summary>
public sealed class BananaLimitTests
{
    [Fact]
    public void A_declared_600KiB_string_on_a_10_byte_input_allocates_nothing_big()
    {
        // 614400 = 0 + 64*128 + 37*128*128: header 00 40 25, STRING, then 6 payload bytes.
        byte[] input = [0x00, 0x40, 0x25, 0x82, 1, 2, 3, 4, 5, 6];
        var parser = new BananaParser(BananaDialect.Pb);
        var buffer = new ReadOnlySequence<byte>(input);
        Assert.False(parser.TryParse(ref buffer, out _)); // warm up
        parser.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool complete = parser.TryParse(ref buffer, out _);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(complete);
        Assert.Equal(10, buffer.Length);
        Assert.True(allocated < 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void A_declared_long_list_allocates_nothing_ahead_of_its_items()
    {
        // A list of 600000 declared with only 3 items present.
        byte[] input = [0x00, 0x4f, 0x24, 0x80, 0x01, 0x81, 0x02, 0x81, 0x03, 0x81];
        var parser = new BananaParser(BananaDialect.Pb);
        var buffer = new ReadOnlySequence<byte>(input);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.False(parser.TryParse(ref buffer, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1024);
    }

    [Fact]
    public void Item_limit_is_configurable_and_named_in_the_error()
    {
        var limits = new BananaLimits { MaxItemLength = 4 };
        byte[] five = BananaVectorTests.Encode("abcde"u8.ToArray(), BananaDialect.None);
        var ex = Assert.Throws<BananaException>(() => BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(five), BananaDialect.None, limits));
        Assert.Contains("BananaLimits.MaxItemLength", ex.Message, StringComparison.Ordinal);
        Assert.Throws<BananaException>(() => BananaVectorTests.Encode("abcde"u8.ToArray(), BananaDialect.None, limits));

        // Raising the limit above Twisted's lets bigger items through.
        var big = new BananaLimits { MaxItemLength = 1_000_000 };
        byte[] payload = new byte[700_000];
        byte[] encoded = BananaVectorTests.Encode(payload, BananaDialect.None, big);
        var item = Assert.Single(BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(encoded), BananaDialect.None, big));
        Assert.Equal(700_000, Assert.IsType<byte[]>(item).Length);
        Assert.Throws<BananaException>(() => BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(encoded), BananaDialect.None));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(512)]
    public void Nesting_deeper_than_MaxDepth_is_refused_without_recursion(int maxDepth)
    {
        var limits = new BananaLimits { MaxDepth = maxDepth };
        byte[] ok = Nested(maxDepth);
        TreeAssert.Equal(BuildNested(maxDepth), Assert.Single(BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(ok), BananaDialect.None, limits)));

        byte[] tooDeep = Nested(maxDepth + 1);
        var ex = Assert.Throws<BananaException>(() => BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(tooDeep), BananaDialect.None, limits));
        Assert.Contains("BananaLimits.MaxDepth", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_million_nested_list_headers_fail_fast()
    {
        // 2 MB of "01 80": Twisted would keep stacking; we stop at MaxDepth without deep recursion.
        byte[] bomb = new byte[2_000_000];
        for (int i = 0; i < bomb.Length; i += 2)
        {
            bomb[i] = 0x01;
            bomb[i + 1] = 0x80;
        }
        Assert.Throws<BananaException>(() => BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(bomb), BananaDialect.Pb));
    }

    [Fact]
    public void Total_message_size_is_bounded_even_while_incomplete()
    {
        var limits = new BananaLimits { MaxMessageSize = 1000 };
        // A list of 600 strings of 10 bytes: every item is within the per-item limit, the whole is not.
        var list = Enumerable.Range(0, 600).Select(_ => (object?)new byte[10]).ToList();
        byte[] encoded = BananaVectorTests.Encode(list, BananaDialect.None);
        var ex = Assert.Throws<BananaException>(() => BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(encoded), BananaDialect.None, limits));
        Assert.Contains("BananaLimits.MaxMessageSize", ex.Message, StringComparison.Ordinal);
        // Only the first 1100 bytes arrived: still refused, the parser does not wait for more.
        Assert.Throws<BananaException>(() => BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(encoded.AsMemory(0, 1100)), BananaDialect.None, limits));
    }

    [Fact]
    public void A_large_item_arriving_in_small_reads_is_scanned_once()
    {
        // 100k small ints arriving 100 bytes at a time: the resumable scan keeps this linear.
        var list = Enumerable.Range(0, 100_000).Select(i => (object?)(long)(i % 100)).ToList();
        byte[] encoded = BananaVectorTests.Encode(list, BananaDialect.Pb);
        var parser = new BananaParser(BananaDialect.Pb);
        int consumed = 0;
        object? result = null;
        for (int available = 100; consumed < encoded.Length; available = Math.Min(available + 100, encoded.Length))
        {
            var buffer = new ReadOnlySequence<byte>(encoded, consumed, available - consumed);
            long before = buffer.Length;
            if (parser.TryParse(ref buffer, out object? item))
            {
                result = item;
            }
            consumed += (int)(before - buffer.Length);
        }
        TreeAssert.Equal(list, result);
    }

    [Fact]
    public void Limits_validate_their_input()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BananaLimits { MaxItemLength = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new BananaLimits { MaxDepth = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new BananaLimits { MaxMessageSize = 1 });
    }

    private static byte[] Nested(int depth)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < depth - 1; i++)
        {
            bytes.Add(0x01);
            bytes.Add(0x80);
        }
        bytes.Add(0x00);
        bytes.Add(0x80);
        return bytes.ToArray();
    }

    private static object BuildNested(int depth)
    {
        object current = new List<object?>();
        for (int i = 1; i < depth; i++)
        {
            current = new List<object?> { current };
        }
        return current;
    }
}
