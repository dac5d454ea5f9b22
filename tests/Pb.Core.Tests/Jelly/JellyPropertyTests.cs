using System.Buffers;
using System.Numerics;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Tests.Jelly;

/// <summary>Property tests (FsCheck): random values round-trip; random bytes never crash, hang or over-allocate.</summary>
public sealed class JellyPropertyTests
{
    private static readonly Config s_config = Config.QuickThrowOnFailure.WithMaxTest(400).WithEndSize(30);

    private static readonly string[] s_words = ["None", "remote", "list", "unicode", "dictionary", "", "tuple", "é", "日本", "😀"];

    private static Gen<long> Longs =>
        Gen.OneOf(
            Gen.Choose(-300, 1100).Select(i => (long)i),
            Gen.Zip(Gen.Choose(int.MinValue, int.MaxValue), Gen.Choose(int.MinValue, int.MaxValue)).Select(p => ((long)p.Item1 << 32) ^ (uint)p.Item2),
            Gen.Elements(long.MinValue, long.MaxValue, int.MinValue, (long)int.MinValue - 1, int.MaxValue, (long)int.MaxValue + 1));

    private static Gen<BigInteger> BigIntegers =>
        Gen.Zip(Gen.Choose(1, 55), Gen.Choose(0, int.MaxValue), (length, seed) =>
        {
            var rnd = new Random(seed);
            byte[] bytes = new byte[length + 1];
            rnd.NextBytes(bytes);
            bytes[^1] = 0; // positive before the sign is applied
            return new BigInteger(bytes) * (rnd.Next(2) == 0 ? 1 : -1);
        });

    private static Gen<double> Doubles =>
        Gen.OneOf(
            Longs.Select(BitConverter.Int64BitsToDouble),
            Gen.Elements(0.0, -0.0, 1.5, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, 0.1));

    private static Gen<string> Strings =>
        Gen.OneOf(
            Gen.Elements(s_words),
            Gen.ListOf(Gen.Choose(0x20, 0x2FFF).Select(c => (char)c)).Select(cs => new string(cs.Where(c => !char.IsSurrogate(c)).ToArray())));

    private static Gen<byte[]> Bytes =>
        Gen.OneOf(
            Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)),
            Gen.Elements(s_words).Select(Encoding.UTF8.GetBytes));

    private static Gen<object?> Hashable =>
        Gen.OneOf(
            Gen.Constant<object?>(null),
            Gen.Elements<object?>(true, false),
            Longs.Select(l => (object?)l),
            BigIntegers.Select(b => (object?)b),
            Doubles.Where(d => !double.IsNaN(d)).Select(d => (object?)d),
            Strings.Select(s => (object?)s),
            Bytes.Select(b => (object?)b));

    private static Gen<object?> Leaf =>
        Gen.OneOf(
            Hashable,
            Doubles.Select(d => (object?)d),
            Gen.Choose(0, int.MaxValue).Select(seed => (object?)RandomDecimal(new Random(seed))),
            Gen.Zip(Gen.Choose(0, int.MaxValue), Gen.Choose(0, 3)).Select(t => RandomTemporal(new Random(t.Item1), t.Item2)));

    private static decimal RandomDecimal(Random rnd) =>
        new(rnd.Next(), rnd.Next(), rnd.Next(), rnd.Next(2) == 0, (byte)rnd.Next(0, 29));

    private static object? RandomTemporal(Random rnd, int kind)
    {
        long micros = rnd.NextInt64(0, DateTime.MaxValue.Ticks / 10);
        return kind switch
        {
            0 => new DateTime(micros * 10, DateTimeKind.Unspecified),
            1 => DateOnly.FromDayNumber(rnd.Next(0, DateOnly.MaxValue.DayNumber)),
            2 => new TimeOnly(rnd.NextInt64(0, TimeOnly.MaxValue.Ticks / 10) * 10),
            _ => TimeSpan.FromTicks(rnd.NextInt64(TimeSpan.MinValue.Ticks / 10 + 1, TimeSpan.MaxValue.Ticks / 10) * 10),
        };
    }

    private static Gen<object?> Value(int size) =>
        size <= 0
            ? Leaf
            : Gen.Frequency(
                (4, Leaf),
                (2, Gen.ListOf(Value(size / 3)).Select(l => (object?)new List<object?>(l))),
                (1, Gen.ListOf(Value(size / 3)).Select(l => (object?)(l.Count == 0 ? PbTuple.Empty : new PbTuple(l)))),
                (1, Gen.ListOf(Gen.Zip(Hashable, Value(size / 3))).Select(entries =>
                {
                    var d = new PbDictionary();
                    foreach ((object? k, object? v) in entries)
                    {
                        d[k] = v;
                    }
                    return (object?)d;
                })),
                (1, Gen.ListOf(Hashable).Select(items => (object?)new HashSet<object?>(items, PbEqualityComparer.Instance))),
                (1, Gen.ListOf(Hashable).Select(items => (object?)new PbFrozenSet(items))));

    private static Arbitrary<object?> Values => Arb.From(Gen.Sized(Value));

    [Fact]
    public void Random_values_round_trip_in_both_dialects()
    {
        Check.One(s_config, Prop.ForAll(Values, value =>
        {
            foreach (BananaDialect dialect in new[] { BananaDialect.None, BananaDialect.Pb })
            {
                byte[] bytes = JellySerializer.Serialize(value, dialect);
                object? back = JellySerializer.Deserialize(bytes, dialect);
                Assert.True(DeepEquals(value, back), $"{dialect}: {PbValueFormatter.Format(value)} came back as {PbValueFormatter.Format(back)}");
                byte[] again = JellySerializer.Serialize(back, dialect);
                Assert.True(bytes.AsSpan().SequenceEqual(again), "re-encoding changed the bytes");
            }
        }));
    }

    [Fact]
    public void Random_values_decode_from_any_split_of_their_bytes()
    {
        var splits = Arb.From(Gen.Zip(Gen.Sized(Value), Gen.Choose(0, int.MaxValue)));
        Check.One(s_config, Prop.ForAll(splits, t =>
        {
            byte[] bytes = JellySerializer.Serialize(t.Item1, BananaDialect.Pb);
            var rnd = new Random(t.Item2);
            int[] cuts = Enumerable.Range(0, rnd.Next(0, 6)).Select(_ => rnd.Next(0, bytes.Length + 1)).ToArray();
            object? back = JellySerializer.Deserialize(Segment.Split(bytes, cuts), BananaDialect.Pb);
            Assert.True(DeepEquals(t.Item1, back));
        }));
    }

    /// <summary>Bytes that are often almost valid: real encodings with bytes flipped, inserted or cut off.</summary>
    private static Gen<byte[]> HostileBytes =>
        Gen.OneOf(
            Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b)),
            Gen.ArrayOf(Gen.Elements<byte>(0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0xff, 0x05, 0x0b)),
            Gen.Zip(Gen.Sized(Value), Gen.Choose(0, int.MaxValue)).Select(t =>
            {
                byte[] bytes = JellySerializer.Serialize(t.Item1, BananaDialect.Pb);
                var rnd = new Random(t.Item2);
                var list = bytes.ToList();
                for (int i = rnd.Next(1, 4); i > 0 && list.Count > 0; i--)
                {
                    int at = rnd.Next(list.Count);
                    switch (rnd.Next(3))
                    {
                        case 0: list[at] = (byte)rnd.Next(256); break;
                        case 1: list.Insert(at, (byte)rnd.Next(256)); break;
                        default: list.RemoveRange(at, list.Count - at); break;
                    }
                }
                return list.ToArray();
            }));

    [Fact]
    public void Random_bytes_never_crash_hang_or_allocate_past_their_size()
    {
        // One-time costs (the first exception a process throws, static tables, the registry's compiled accessors)
        // would be charged to whichever input comes first: pay them once, through the same path, before measuring.
        foreach (byte[] warm in new[] { new byte[] { 0xa7 }, JellySerializer.Serialize(new List<object?> { 1L, "x", 2.5, new PbDictionary { ["k"] = null } }) })
        {
            var buffer = new ReadOnlySequence<byte>(warm);
            try
            {
                var warmParser = new BananaParser(BananaDialect.Pb);
                while (warmParser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
                {
                    var reader = new BananaReader(item, BananaDialect.Pb);
                    Assert.NotNull(new Unjellier(JellyVectorTests.Options).Unjelly(ref reader));
                }
            }
            catch (BananaException)
            {
            }
        }
        Check.One(s_config.WithMaxTest(2000), Prop.ForAll(Arb.From(HostileBytes), bytes =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var parser = new BananaParser(BananaDialect.Pb);
            var buffer = new ReadOnlySequence<byte>(bytes);
            var unjellier = new Unjellier(JellyVectorTests.Options);
            int items = 0;
            try
            {
                while (parser.TryParseItem(ref buffer, out ReadOnlySequence<byte> item))
                {
                    items++;
                    var reader = new BananaReader(item, BananaDialect.Pb);
                    try
                    {
                        unjellier.Unjelly(ref reader);
                    }
                    catch (JellyException)
                    {
                        // a bad jelly tree fails that one value, the stream goes on
                    }
                }
            }
            catch (BananaException)
            {
                // a bad frame: the connection would close
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(items <= bytes.Length);
            // Nothing is reserved for declared sizes that did not arrive: memory follows the bytes present.
            Assert.True(allocated < 64 * 1024 + 200L * bytes.Length, $"allocated {allocated} bytes for {bytes.Length} input bytes");
        }));
    }

    [Fact]
    public void Random_nesting_never_recurses_past_the_depth_limit()
    {
        // Valid jelly nested d deep: ["list", ["list", ... ["list"]]]. The one-pass decoder recurses per level,
        // so the depth limit is what keeps a hostile peer from overflowing the stack.
        var limits = new BananaLimits { MaxDepth = 64 };
        Check.One(s_config, Prop.ForAll(Arb.From(Gen.Choose(1, 5000)), depth =>
        {
            var bytes = new List<byte>(depth * 4);
            for (int i = 1; i < depth; i++)
            {
                bytes.AddRange([0x02, 0x80, 0x08, 0x87]); // a list of two: the tag "list" and the next level
            }
            bytes.AddRange([0x01, 0x80, 0x08, 0x87]);
            byte[] input = bytes.ToArray();
            if (depth <= 64)
            {
                Assert.NotNull(JellySerializer.Deserialize(input, BananaDialect.Pb, limits: limits));
                return;
            }
            Assert.Contains("MaxDepth", Assert.Throws<BananaException>(() => JellySerializer.Deserialize(input, BananaDialect.Pb, limits: limits)).Message, StringComparison.Ordinal);
            // The frame scanner refuses it too, without recursing at all.
            var parser = new BananaParser(BananaDialect.Pb, limits);
            var buffer = new ReadOnlySequence<byte>(input);
            Assert.Throws<BananaException>(() => parser.TryParseItem(ref buffer, out _));
        }));
    }

    /// <summary>Structural equality of jelly values, numbers by value, NaN equal to NaN.</summary>
    internal static bool DeepEquals(object? a, object? b)
    {
        switch (a)
        {
            case null: return b is null;
            case double da when b is double db: return da.Equals(db) || (double.IsNaN(da) && double.IsNaN(db));
            case byte[] ba: return b is byte[] bb && ba.AsSpan().SequenceEqual(bb);
            case decimal ma: return b is decimal mb && ma == mb && decimal.GetBits(ma)[3] == decimal.GetBits(mb)[3];
            case List<object?> la: return b is List<object?> lb && la.Count == lb.Count && la.Zip(lb).All(p => DeepEquals(p.First, p.Second));
            case PbTuple ta: return b is PbTuple tb && ta.Count == tb.Count && ta.Zip(tb).All(p => DeepEquals(p.First, p.Second));
            case PbDictionary dictA:
                return b is PbDictionary dictB && dictA.Count == dictB.Count
                    && dictA.Zip(dictB).All(p => DeepEquals(p.First.Key, p.Second.Key) && DeepEquals(p.First.Value, p.Second.Value));
            case HashSet<object?> sa: return b is HashSet<object?> sb && sa.SetEquals(sb);
            case PbFrozenSet fa: return b is PbFrozenSet fb && fa.Equals(fb);
            case bool: return b is bool && a.Equals(b);
            case long or BigInteger: return b is long or BigInteger && PbEqualityComparer.Instance.Equals(a, b);
            default: return a.Equals(b);
        }
    }
}
