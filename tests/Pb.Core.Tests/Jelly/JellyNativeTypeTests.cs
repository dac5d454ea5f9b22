using System.Numerics;
using System.Text.Json;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Tests.Jelly;

/// <summary>Natural C# values produce exactly the bytes Twisted produces for the equivalent Python value.</summary>
public sealed class JellyNativeTypeTests
{
    private static void AssertLikeTwisted(string vector, object? value, JellyOptions? options = null)
    {
        JsonElement v = TestVectors.Find("jelly.json", "vectors", vector);
        TestVectors.AssertHex(v.GetProperty("banana_pb_hex"), JellySerializer.Serialize(value, BananaDialect.Pb, options), vector + " (pb)");
        TestVectors.AssertHex(v.GetProperty("banana_none_hex"), JellySerializer.Serialize(value, BananaDialect.None, options), vector + " (none)");
    }

    [Fact]
    public void Scalars()
    {
        AssertLikeTwisted("int 2**31-1", int.MaxValue);
        AssertLikeTwisted("int -2**31", int.MinValue);
        AssertLikeTwisted("int 2**63", (ulong)long.MaxValue + 1);
        AssertLikeTwisted("int -2**63-1", (BigInteger)long.MinValue - 1);
        AssertLikeTwisted("float 1.5", 1.5f);
        AssertLikeTwisted("float NaN", TestVectors.PythonNaN);
        // .NET's own NaN keeps its sign bit on the wire, as Python's struct would send the same bits.
        Assert.Equal("84fff8000000000000", Convert.ToHexStringLower(JellySerializer.Serialize(double.NaN)));
        AssertLikeTwisted("str emoji", "smile 😀");
        AssertLikeTwisted("bytes equal to vocab word", "remote"u8.ToArray());
        AssertLikeTwisted("bytes ascii", new ReadOnlyMemory<byte>("hello world"u8.ToArray()));
        AssertLikeTwisted("none", null);
        AssertLikeTwisted("bool false", false);
    }

    [Fact]
    public void Collections()
    {
        AssertLikeTwisted("list ints", new[] { 1, 2, 3 });
        AssertLikeTwisted("list ints", new List<long> { 1, 2, 3 });
        AssertLikeTwisted("list empty", Array.Empty<string>());
        AssertLikeTwisted("list nested", new object?[] { 1, new object?[] { 2, new object?[] { 3, new List<object?>() } }, "x", "y"u8.ToArray() });
        AssertLikeTwisted("tuple mixed", (1, "a", "b"u8.ToArray(), (object?)null));
        AssertLikeTwisted("tuple one", new PbTuple(1));
        AssertLikeTwisted("dict str keys", new Dictionary<string, object?> { ["a"] = 1, ["b"] = "c" });
        AssertLikeTwisted("dict str keys", new Dictionary<string, object> { ["a"] = 1L, ["b"] = "c" });
        AssertLikeTwisted("dict empty", new Dictionary<int, int>());
        AssertLikeTwisted("kwargs dict as sent by callRemote", new Dictionary<string, object?> { ["flag"] = true, ["n"] = null });
        AssertLikeTwisted("set ints", new HashSet<int> { 1, 2, 3 });
        AssertLikeTwisted("frozenset ints", new PbFrozenSet(4L, 5L));
        AssertLikeTwisted("dict non-string keys", new PbDictionary
        {
            [1] = "one",
            ["k"u8.ToArray()] = 2.5,
            [new PbTuple(1, 2)] = null,
            [null] = true,
            [1.5] = new List<object?> { 1 },
            [new PbFrozenSet(3)] = "fs",
        });
        AssertLikeTwisted("args tuple as sent by callRemote", new PbTuple(1, "two", "three"u8.ToArray()));
        // A lazily computed sequence is materialized once.
        AssertLikeTwisted("list ints", Enumerable.Range(1, 3).Select(i => i));
    }

    [Fact]
    public void Shared_and_cyclic_graphs_are_numbered_as_twisted_numbers_them()
    {
        var a = new List<object?> { "a" };
        var b = new List<object?> { "b" };
        AssertLikeTwisted("reference numbering order", new List<object?> { a, b, b, a });

        var inner = new Dictionary<string, object?> { ["k"] = "v" };
        AssertLikeTwisted("shared dict value", new Dictionary<string, object?> { ["x"] = inner, ["y"] = inner });

        var cycle = new List<object?>();
        cycle.Add(cycle);
        AssertLikeTwisted("cycle list", cycle);

        var self = new Dictionary<string, object?> { ["name"] = "d" };
        self["self"] = self;
        AssertLikeTwisted("cycle dict", self);

        AssertLikeTwisted("identity sharing of empty tuple", new List<object?> { PbTuple.Empty, PbTuple.Empty });
    }

    [Fact]
    public void Dates_times_and_decimals()
    {
        AssertLikeTwisted("datetime", new DateTime(2024, 2, 29, 13, 45, 30).AddTicks(1_234_560));
        AssertLikeTwisted("datetime min", DateTime.MinValue);
        AssertLikeTwisted("date", new DateOnly(1999, 12, 31));
        AssertLikeTwisted("time", new TimeOnly(23, 59, 59).Add(TimeSpan.FromTicks(9_999_990)));
        AssertLikeTwisted("time midnight", TimeOnly.MinValue);
        AssertLikeTwisted("timedelta", new TimeSpan(1, 0, 0, 2).Add(TimeSpan.FromTicks(30)));
        AssertLikeTwisted("timedelta negative", TimeSpan.FromTicks(-10));
        AssertLikeTwisted("decimal", 123.45m);
        AssertLikeTwisted("decimal negative", -1.5m);
        AssertLikeTwisted("decimal zero", 0m);
        AssertLikeTwisted("decimal big", -12345678901234567890.000001m);
    }

    [Fact]
    public void Registered_copyables_and_unregistered_objects()
    {
        AssertLikeTwisted("copyable", new pbvectors.Point { X = 1, Y = 2, Label = "p" }, JellyVectorTests.Options);
        var shared = new pbvectors.Point { X = 0, Y = 0, Label = "o" };
        AssertLikeTwisted("copyable shared twice", new[] { shared, shared }, JellyVectorTests.Options);

        // Twisted's broker sends an unregistered object as "unpersistable"; that is opt-in here.
        AssertLikeTwisted("plain instance via broker", new pbvectors.Plain(), new JellyOptions { SendUnregisteredAsUnpersistable = true });
        var ex = Assert.Throws<JellyException>(() => JellySerializer.Serialize(new pbvectors.Plain()));
        Assert.Contains("pbvectors.Plain", ex.Message, StringComparison.Ordinal);
        Assert.Contains("JellyOptions.Types", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Custom_state_functions_round_trip()
    {
        var options = new JellyOptions
        {
            Types = new JellyTypeRegistry().Add<Money>("shop.Money", m => new PbTuple(m.Currency, m.Cents), s =>
            {
                var t = (PbTuple)s!;
                return new Money((string)t[0]!, JellyConvert.To<long>(t[1]));
            }),
        };
        byte[] bytes = JellySerializer.Serialize(new List<object?> { new Money("EUR", 1250) }, BananaDialect.Pb, options);
        var back = (List<object?>)JellySerializer.Deserialize(bytes, BananaDialect.Pb, options)!;
        Assert.Equal(new Money("EUR", 1250), back[0]);
        // The receiver must have registered the tag: otherwise it is refused as insecure, naming it.
        var ex = Assert.Throws<InsecureJellyException>(() => JellySerializer.Deserialize(bytes));
        Assert.Equal("shop.Money", ex.TypeTag);
        Assert.Contains("Module shop not allowed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Registration_rejects_duplicates_and_empty_tags()
    {
        var types = new JellyTypeRegistry().Add<pbvectors.Point>("pbvectors.Point");
        Assert.Throws<ArgumentException>(() => types.Add<pbvectors.Plain>("pbvectors.Point"));
        Assert.Throws<ArgumentException>(() => types.Add<pbvectors.Plain>(""));
        Assert.True(types.Contains("pbvectors.Point"));
    }

    [Fact]
    public void Copyable_state_converts_to_member_types_and_names_the_bad_member()
    {
        var options = JellyVectorTests.Options;
        var state = new PbDictionary { ["x"] = 5L, ["y"u8.ToArray()] = 6L, ["label"] = "l"u8.ToArray(), ["ignored"] = 1L };
        var tree = new List<object?> { "pbvectors.Point"u8.ToArray(), state };
        // Build [tag, state] by hand with the Banana writer: a Copyable as a Python peer would send it.
        byte[] bytes = EncodeCopyable("pbvectors.Point", state);
        var point = Assert.IsType<pbvectors.Point>(JellySerializer.Deserialize(bytes, BananaDialect.Pb, options));
        Assert.Equal((5, 6, "l"), (point.X, point.Y, point.Label));

        byte[] bad = EncodeCopyable("pbvectors.Point", new PbDictionary { ["x"] = "not a number" });
        var ex = Assert.Throws<JellyException>(() => JellySerializer.Deserialize(bad, BananaDialect.Pb, options));
        Assert.Contains("Point.x", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(tree);
    }

    private static byte[] EncodeCopyable(string tag, PbDictionary state)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        var writer = new BananaWriter(buffer, BananaDialect.Pb);
        writer.WriteListHeader(2);
        writer.WriteBytes(System.Text.Encoding.UTF8.GetBytes(tag));
        new Jellier().Jelly(ref writer, state);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    [Fact]
    public void Graphs_deeper_than_the_limit_are_refused_at_the_sender()
    {
        object? deep = null;
        for (int i = 0; i < 10_000; i++)
        {
            deep = new List<object?> { deep };
        }
        var ex = Assert.Throws<JellyException>(() => JellySerializer.Serialize(deep));
        Assert.Contains("BananaLimits.MaxDepth", ex.Message, StringComparison.Ordinal);

        object? ok = null;
        for (int i = 0; i < 500; i++)
        {
            ok = new List<object?> { ok };
        }
        Assert.NotNull(JellySerializer.Deserialize(JellySerializer.Serialize(ok)));
    }

    [Fact]
    public void A_jellier_and_unjellier_are_reusable()
    {
        var jellier = new Jellier();
        var unjellier = new Unjellier();
        var shared = new List<object?> { 1 };
        for (int round = 0; round < 3; round++)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            var writer = new BananaWriter(buffer, BananaDialect.Pb);
            jellier.Jelly(ref writer, new List<object?> { shared, shared });
            writer.Flush();
            // Reference numbers restart at 1 for every call, as in Twisted.
            Assert.Equal(JellySerializer.Serialize(new List<object?> { shared, shared }), buffer.WrittenSpan.ToArray());
            var reader = new BananaReader(new System.Buffers.ReadOnlySequence<byte>(buffer.WrittenMemory), BananaDialect.Pb);
            var back = (List<object?>)unjellier.Unjelly(ref reader)!;
            Assert.Same(back[0], back[1]);
        }
    }

    [Fact]
    public void Malformed_trees_get_clear_errors()
    {
        static string ErrorOf(object? tree)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            var writer = new BananaWriter(buffer, BananaDialect.Pb);
            writer.WriteTree(tree);
            writer.Flush();
            return Assert.ThrowsAny<JellyException>(() => JellySerializer.Deserialize(buffer.WrittenMemory)).Message;
        }

        static byte[] B(string s) => System.Text.Encoding.ASCII.GetBytes(s);
        Assert.Contains("dictionary entry", ErrorOf(new List<object?> { B("dictionary"), new List<object?> { 1L } }), StringComparison.Ordinal);
        Assert.Contains("unhashable", ErrorOf(new List<object?> { B("dictionary"), new List<object?> { new List<object?> { B("list") }, 1L } }), StringComparison.Ordinal);
        Assert.Contains("defined twice", ErrorOf(new List<object?> { B("list"), new List<object?> { B("reference"), 1L, new List<object?> { B("list") } }, new List<object?> { B("reference"), 1L, new List<object?> { B("list") } } }), StringComparison.Ordinal);
        Assert.Contains("before it is complete", ErrorOf(new List<object?> { B("reference"), 1L, new List<object?> { B("dictionary"), new List<object?> { new List<object?> { B("dereference"), 1L }, 1L } } }), StringComparison.Ordinal);
        Assert.Contains("out of range", ErrorOf(new List<object?> { B("datetime"), B("2024 13 1 0 0 0 0") }), StringComparison.Ordinal);
        Assert.Contains("not an integer", ErrorOf(new List<object?> { B("date"), B("2024 x 1") }), StringComparison.Ordinal);
        Assert.Contains("TimeSpan", ErrorOf(new List<object?> { B("timedelta"), B("999999999 0 0") }), StringComparison.Ordinal);
        Assert.Contains("type tag", ErrorOf(new List<object?> { new List<object?>(), 1L }), StringComparison.Ordinal);
        // A decimal exponent beyond 64 bits is refused, as Twisted refuses it (OverflowError).
        Assert.Contains("exponent", ErrorOf(new List<object?> { B("decimal"), 1L, System.Numerics.BigInteger.One << 64 }), StringComparison.Ordinal);
    }

    private sealed record Money(string Currency, long Cents);
}
