using System.Net;
using Pb.Banana;
using Pb.Jelly;

namespace Pb.Tests.Jelly;

public sealed record Item(long Id, string Name, double Score);

public sealed record Order(string Customer, IReadOnlyList<Item> Items, string? Note = null, int Priority = 3);

public readonly record struct Point2(int X, int Y);

public sealed record Mixed(long Big, int Small, double Ratio, string? Label, bool Flag, string Text);

/// <summary>A class with init and set accessors, one of them required, bound by its parameterless constructor.</summary>
[PbRecord]
public sealed class Profile
{
    public required string Login { get; init; }
    public string? Email { get; set; }
    public int Visits { get; set; } = 7;
    [PbName("display-name")] public string DisplayName { get; set; } = "";
}

[PbRecord(Naming = PbNamingPolicy.SnakeCaseLower, RefuseUnknownKeys = true)]
public sealed record PythonStyle(long UserId, string FullName);

/// <summary>A record type others derive from: an array of it is not written as if every item had its shape.</summary>
public record Animal(string Name);

public sealed record Dog(string Name, bool Barks) : Animal(Name);

/// <summary>A sealed record that is also a tuple: written as a tuple, as the jellier tests ITuple before records.</summary>
public sealed record Pair(int A, int B) : System.Runtime.CompilerServices.ITuple
{
    public object? this[int index] => index == 0 ? A : B;

    public int Length => 2;
}

/// <summary>Two members with one wire name: no shape can be built, so only an actual item is refused.</summary>
public sealed record Clash(int A, [property: PbName("a")] int B);

/// <summary>Constructor defaults of each unboxed kind.</summary>
public sealed record Defaults(long Id, int Priority = 3, double Weight = 1.5, bool On = true, long Limit = -2);

/// <summary>A class without [PbRecord]: read when asked for, never sent as a dict unless marked.</summary>
public sealed class Settings
{
    public bool Dark { get; set; }
    public List<string> Tags { get; set; } = [];
}

/// <summary>Typed values as plain jelly dicts with text keys: the same bytes as the dict, read back into the type.</summary>
public sealed class TypedValueTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Bytes(object? value) => JellySerializer.Serialize(value, BananaDialect.Pb);

    [Fact]
    public void A_record_is_written_exactly_as_the_dict_of_its_properties_in_camel_case()
    {
        Assert.Equal(
            Bytes(new Dictionary<string, object?> { ["id"] = 1L, ["name"] = "a", ["score"] = 0.5 }),
            Bytes(new Item(1, "a", 0.5)));
        Assert.Equal(
            Bytes(new Dictionary<string, object?> { ["x"] = 1, ["y"] = -2 }),
            Bytes(new Point2(1, -2)));
        Assert.Equal(
            Bytes(new Dictionary<string, object?> { ["login"] = "al", ["email"] = null, ["visits"] = 7, ["display-name"] = "Al" }),
            Bytes(new Profile { Login = "al", DisplayName = "Al" }));
        Assert.Equal(
            Bytes(new Dictionary<string, object?> { ["user_id"] = 5L, ["full_name"] = "Ada L" }),
            Bytes(new PythonStyle(5, "Ada L")));
    }

    [Fact]
    public void Arrays_of_records_are_written_as_lists_of_their_dicts_with_None_and_each_items_own_type()
    {
        static Dictionary<string, object?> Dict(Mixed m) => new()
        {
            ["big"] = m.Big, ["small"] = m.Small, ["ratio"] = m.Ratio, ["label"] = m.Label, ["flag"] = m.Flag, ["text"] = m.Text,
        };
        var a = new Mixed(1, -2, 0.25, null, true, "list");
        var b = new Mixed(long.MaxValue, 3, -1e300, "é", false, "");
        foreach (BananaDialect dialect in new[] { BananaDialect.Pb, BananaDialect.None })
        {
            Assert.Equal(
                JellySerializer.Serialize(new List<object?> { Dict(a), null, Dict(b) }, dialect),
                JellySerializer.Serialize(new Mixed?[] { a, null, b }, dialect));
        }
        // A List<T> of records and an array of record structs: the same bytes as their dicts.
        Assert.Equal(
            Bytes(new List<object?> { Dict(a), null, Dict(b) }),
            Bytes(new List<Mixed?> { a, null, b }));
        Assert.Equal(
            Bytes(new List<object?> { new Dictionary<string, object?> { ["x"] = 1, ["y"] = 2 }, new Dictionary<string, object?> { ["x"] = -3, ["y"] = 4 } }),
            Bytes(new[] { new Point2(1, 2), new Point2(-3, 4) }));
        Order first = new("c", []), second = new("c", []);
        var listed = (List<object?>)JellySerializer.Deserialize(Bytes(new List<Order> { first, first, second }))!;
        Assert.Same(listed[0], listed[1]);
        Assert.NotSame(listed[0], listed[2]);
        // A one-dimensional array that does not start at 0 is written item by item, as before.
        var offset = Array.CreateInstance(typeof(Mixed), [2], [1]);
        offset.SetValue(a, 1);
        offset.SetValue(b, 2);
        Assert.Equal(Bytes(new List<object?> { Dict(a), Dict(b) }), Bytes(offset));
        // Not sealed: a Dog in an Animal[] is written as a Dog.
        Assert.Equal(
            Bytes(new List<object?> { new Dictionary<string, object?> { ["name"] = "a" }, new Dictionary<string, object?> { ["name"] = "d", ["barks"] = true } }),
            Bytes(new Animal[] { new("a"), new Dog("d", true) }));
        // A record holding a container, twice in one array: shared as Twisted shares a dict (reference, then dereference).
        var order = new Order("c", [new Item(1, "i", 1)]);
        var twice = (List<object?>)JellySerializer.Deserialize(Bytes(new[] { order, order }))!;
        Assert.Same(twice[0], twice[1]);
        // A sealed record that is an ITuple goes as a tuple, shared like one; an array of a type with no shape is refused
        // only when it holds an item.
        var pair = new Pair(1, 2);
        Assert.Equal(Bytes(new List<object?> { new PbTuple(1, 2), null }), Bytes(new Pair?[] { new Pair(1, 2), null }));
        var pairs = (List<object?>)JellySerializer.Deserialize(Bytes(new[] { pair, pair }))!;
        Assert.Same(pairs[0], pairs[1]);
        Assert.Equal(Bytes(new List<object?> { null }), Bytes(new Clash?[] { null }));
        Assert.Equal(Bytes(new List<object?>()), Bytes(Array.Empty<Clash>()));
        Assert.Throws<JellyException>(() => Bytes(new[] { new Clash(1, 2) }));
        // Nested past the depth limit: refused as before.
        var limits = new BananaLimits { MaxDepth = 2 };
        object?[] nested = [new object?[] { new[] { a } }];
        Assert.Throws<JellyException>(() =>
        {
            var writer = new BananaWriter(new System.Buffers.ArrayBufferWriter<byte>(), BananaDialect.Pb, limits);
            new Jellier().Jelly(ref writer, nested);
        });
        Assert.Throws<JellyException>(() =>
        {
            var writer = new BananaWriter(new System.Buffers.ArrayBufferWriter<byte>(), BananaDialect.Pb, limits);
            new Jellier().Jelly(ref writer, new[] { new[] { a } });
        });
    }

    [Fact]
    public void A_class_without_the_attribute_is_not_sent_as_a_dict()
    {
        var e = Assert.Throws<JellyException>(() => Bytes(new Settings()));
        Assert.Contains("Settings", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_nested_in_lists_round_trip_and_only_records_holding_containers_share_identity()
    {
        var shared = new Item(2, "b", 1.25);
        var order = new Order("ann", [new Item(1, "a", 0.5), shared, shared], Note: "rush");
        object? tree = JellySerializer.Deserialize(Bytes(order));
        Order back = JellyConvert.To<Order>(tree);
        Assert.Equal("ann", back.Customer);
        Assert.Equal("rush", back.Note);
        Assert.Equal(3, back.Priority);
        Assert.Equal([new Item(1, "a", 0.5), shared, shared], back.Items);
        // A record of scalars cannot hold a shared value, so the jellier skips its identity: two equal dicts.
        var items = (List<object?>)((PbDictionary)tree!)["items"]!;
        Assert.NotSame(items[1], items[2]);
        Assert.Equal(Bytes(new Dictionary<string, object?> { ["id"] = 2L, ["name"] = "b", ["score"] = 1.25 }), Bytes(items[2]));
        // A record that holds a container shares like a dict, as Twisted would: reference, then dereference.
        var twice = (List<object?>)JellySerializer.Deserialize(Bytes(new[] { order, order }))!;
        Assert.Same(twice[0], twice[1]);
        // Typed values are values: each occurrence reads into its own, equal record.
        Assert.Equal(back.Items[1], back.Items[2]);

        Item[] array = JellyConvert.To<Item[]>(JellySerializer.Deserialize(Bytes(new[] { new Item(9, "z", -1) })));
        Assert.Equal([new Item(9, "z", -1)], array);
    }

    [Fact]
    public void Classes_bind_init_and_set_properties_and_keep_defaults_for_missing_optional_members()
    {
        var state = new PbDictionary { ["login"] = "bo", ["display-name"] = "Bo", ["colour"] = "ignored" };
        Profile profile = JellyConvert.To<Profile>(state);
        Assert.Equal("bo", profile.Login);
        Assert.Equal("Bo", profile.DisplayName);
        Assert.Null(profile.Email);
        Assert.Equal(7, profile.Visits);

        Settings settings = JellyConvert.To<Settings>(new PbDictionary { ["dark"] = true, ["tags"] = new List<object?> { "a", "b" } });
        Assert.True(settings.Dark);
        Assert.Equal(["a", "b"], settings.Tags);
        Assert.Equal(new Point2(3, 4), JellyConvert.To<Point2>(new PbDictionary { ["x"] = 3L, ["y"] = 4L }));
    }

    [Fact]
    public void Errors_name_the_member_and_the_type()
    {
        Assert.Equal("Cannot read Item: missing required member 'name'.",
            Assert.Throws<JellyException>(() => JellyConvert.To<Item>(new PbDictionary { ["id"] = 1L, ["score"] = 1.0 })).Message);
        Assert.Equal("Cannot read Profile: missing required member 'login'.",
            Assert.Throws<JellyException>(() => JellyConvert.To<Profile>(new PbDictionary { ["email"] = "x" })).Message);
        Assert.Equal("Cannot read Item: member 'name' cannot be None.",
            Assert.Throws<JellyException>(() => JellyConvert.To<Item>(new PbDictionary { ["id"] = 1L, ["name"] = null, ["score"] = 1.0 })).Message);
        Assert.StartsWith("Cannot read Item.id: Cannot convert str 'one' to Int64",
            Assert.Throws<JellyException>(() => JellyConvert.To<Item>(new PbDictionary { ["id"] = "one", ["name"] = "n", ["score"] = 1.0 })).Message, StringComparison.Ordinal);
        Assert.Equal("Cannot read PythonStyle: unknown key 'extra'.",
            Assert.Throws<JellyException>(() => JellyConvert.To<PythonStyle>(new PbDictionary { ["user_id"] = 1L, ["full_name"] = "x", ["extra"] = 0L })).Message);
        Assert.Equal("Cannot read Item: its keys must be text, not int.",
            Assert.Throws<JellyException>(() => JellyConvert.To<Item>(new PbDictionary { [1L] = 1L })).Message);
        Assert.StartsWith("Cannot read Item from list",
            Assert.Throws<JellyException>(() => JellyConvert.To<Item>(new List<object?> { 1L })).Message, StringComparison.Ordinal);
        // Nullable members may be None or missing.
        Assert.Null(JellyConvert.To<Order>(new PbDictionary { ["customer"] = "c", ["items"] = new List<object?>(), ["note"] = null }).Note);
    }

    /// <summary>Reads <paramref name="bytes"/> through the typed plan of <typeparamref name="T"/>, as the broker does for answers and arguments.</summary>
    private static (bool Typed, object? Value, long Consumed) ReadTyped<T>(byte[] bytes)
    {
        var reader = new BananaReader(new System.Buffers.ReadOnlySequence<byte>(bytes), BananaDialect.Pb);
        TypedPlan plan = TypedPlan.For(typeof(T)) ?? throw new InvalidOperationException($"no plan for {typeof(T).Name}");
        bool typed = new Unjellier().TryUnjellyTyped(ref reader, null, plan, out object? value);
        return (typed, value, reader.Consumed);
    }

    [Fact]
    public void The_typed_read_goes_straight_to_the_records_and_agrees_with_the_tree()
    {
        Item[] items = [.. Enumerable.Range(0, 50).Select(i => new Item(i, $"item-{i}", i * 0.5))];
        byte[] bytes = Bytes(items);
        (bool typed, object? value, long consumed) = ReadTyped<Item[]>(bytes);
        Assert.True(typed);
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(items, Assert.IsType<Item[]>(value));
        Assert.Equal(JellyConvert.To<Item[]>(JellySerializer.Deserialize(bytes)), (Item[])value!);

        // A shared record inside: that element gives way to the generic read, the rest stays typed.
        var shared = new Item(1, "s", 1);
        byte[] withShared = Bytes(new Order("o", [shared, shared]));
        (typed, value, _) = ReadTyped<Order>(withShared);
        Assert.True(typed);
        Assert.Equal([shared, shared], ((Order)value!).Items);

        // Python's 2.0 may come as an int from JavaScript peers: a double member takes it.
        byte[] intScore = Bytes(new Dictionary<string, object?> { ["id"] = 1L, ["name"] = "n", ["score"] = 2L });
        Assert.Equal(new Item(1, "n", 2.0), ReadTyped<Item>(intScore).Value);
    }

    [Fact]
    public void Reading_records_of_numbers_and_text_allocates_the_records_and_their_text_only()
    {
        // 1000 Items: each record is 40 bytes on 64-bit .NET and each name ("item-0" to "item-999") 40 bytes, plus the
        // array (8 KB). A boxed long and a boxed double per record (24 bytes each) would add 48 KB.
        Item[] items = [.. Enumerable.Range(0, 1000).Select(i => new Item(i, $"item-{i}", i * 0.5))];
        byte[] bytes = Bytes(items);
        TypedPlan plan = TypedPlan.For(typeof(Item[]))!;
        var unjellier = new Unjellier();
        Item[] Read()
        {
            var reader = new BananaReader(new System.Buffers.ReadOnlySequence<byte>(bytes), BananaDialect.Pb);
            Assert.True(unjellier.TryUnjellyTyped(ref reader, null, plan, out object? value));
            return (Item[])value!;
        }
        Assert.Equal(items, Read()); // warm: the plan's and the unjellier's reused arrays
        long before = GC.GetAllocatedBytesForCurrentThread();
        Item[] read = Read();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(items, read);
        Assert.InRange(allocated, 1000 * 80, (1000 * 80) + 8_024 + 1_024);
    }

    [Fact]
    public void Missing_numbers_and_booleans_take_their_constructor_defaults_on_both_reads()
    {
        byte[] bytes = Bytes(new Dictionary<string, object?> { ["id"] = 9L, ["on"] = false });
        (bool typed, object? value, _) = ReadTyped<Defaults>(bytes);
        Assert.True(typed);
        Assert.Equal(new Defaults(9, 3, 1.5, false, -2), value);
        Assert.Equal(new Defaults(9, 3, 1.5, false, -2), JellyConvert.To<Defaults>(JellySerializer.Deserialize(bytes)));
        Assert.Equal(new Defaults(1, 4, 2.5, true, 7), ReadTyped<Defaults>(Bytes(new Defaults(1, 4, 2.5, true, 7))).Value);
    }

    private static (bool Typed, object? Value, long Consumed) ReadTyped<T>(byte[] bytes, BananaDialect dialect)
    {
        var reader = new BananaReader(new System.Buffers.ReadOnlySequence<byte>(bytes), dialect);
        bool typed = new Unjellier().TryUnjellyTyped(ref reader, null, TypedPlan.For(typeof(T))!, out object? value);
        return (typed, value, reader.Consumed);
    }

    [Theory]
    [InlineData(BananaDialect.Pb)]
    [InlineData(BananaDialect.None)]
    public void The_byte_level_record_reader_agrees_with_the_tree_on_random_records(BananaDialect dialect)
    {
        var random = new Random(1234);
        string[] texts = ["", "a", "list", "remote", "é ü 😀", new string('x', 300), "None"];
        for (int round = 0; round < 300; round++)
        {
            var mixed = new Mixed(
                random.Next(4) switch { 0 => long.MaxValue, 1 => long.MinValue + 1, 2 => -random.NextInt64(1L << 40), _ => random.Next(200) },
                random.Next(int.MinValue, int.MaxValue),
                random.Next(3) == 0 ? random.Next(-5, 5) : random.NextDouble() * 1e6 - 5e5,
                random.Next(3) == 0 ? null : texts[random.Next(texts.Length)],
                random.Next(2) == 0,
                texts[random.Next(texts.Length)]);
            byte[] bytes = JellySerializer.Serialize(new[] { mixed, mixed with { Flag = !mixed.Flag } }, dialect);
            (bool typed, object? value, long consumed) = ReadTyped<Mixed[]>(bytes, dialect);
            Assert.True(typed);
            Assert.Equal(bytes.Length, consumed);
            Assert.Equal(JellyConvert.To<Mixed[]>(JellySerializer.Deserialize(bytes, dialect)), (Mixed[])value!);
            Assert.Equal(mixed, ((Mixed[])value!)[0]);
        }
    }

    [Fact]
    public void Keys_in_another_order_unknown_keys_and_integral_floats_read_the_same_as_through_the_tree()
    {
        var reordered = new PbDictionary { ["text"] = "t", ["flag"] = true, ["extra"] = new List<object?> { 1L }, ["ratio"] = 3L, ["small"] = -7L, ["big"] = 1L << 50, ["label"] = null };
        byte[] bytes = JellySerializer.Serialize(reordered);
        (bool typed, object? value, _) = ReadTyped<Mixed>(bytes, BananaDialect.Pb);
        Assert.True(typed);
        Assert.Equal(new Mixed(1L << 50, -7, 3.0, null, true, "t"), value);
        // Out of range for the int member: the fast reader gives way and the error names the member.
        byte[] tooBig = JellySerializer.Serialize(new PbDictionary { ["big"] = 1L, ["small"] = 1L << 40, ["ratio"] = 0.5, ["flag"] = false, ["text"] = "" });
        Assert.False(ReadTyped<Mixed>(tooBig, BananaDialect.Pb).Typed);
        Assert.StartsWith("Cannot read Mixed.small:", Assert.Throws<JellyException>(() => JellyConvert.To<Mixed>(JellySerializer.Deserialize(tooBig))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_typed_read_that_fails_consumes_nothing_so_the_generic_read_reports_the_error()
    {
        byte[] missing = Bytes(new[] { new Dictionary<string, object?> { ["id"] = 1L, ["score"] = 0.5 } });
        (bool typed, _, long consumed) = ReadTyped<Item[]>(missing);
        Assert.False(typed);
        Assert.Equal(0, consumed);
        byte[] none = Bytes(new Dictionary<string, object?> { ["id"] = null, ["name"] = "n", ["score"] = 0.5 });
        Assert.False(ReadTyped<Item>(none).Typed);
        byte[] refused = Bytes(new Dictionary<string, object?> { ["user_id"] = 1L, ["full_name"] = "f", ["extra"] = 1L });
        Assert.False(ReadTyped<PythonStyle>(refused).Typed);
        Assert.True(ReadTyped<PythonStyle>(Bytes(new PythonStyle(1, "f"))).Typed);
        // A None key is no text key: refused, as the tree path refuses it.
        byte[] noneKey = Bytes(new PbDictionary { [null] = 1L, ["id"] = 1L, ["name"] = "n", ["score"] = 0.5 });
        Assert.False(ReadTyped<Item>(noneKey).Typed);
        Assert.Equal("Cannot read Item: its keys must be text, not NoneType.",
            Assert.Throws<JellyException>(() => JellyConvert.To<Item>(JellySerializer.Deserialize(noneKey))).Message);
    }

    public sealed class Shop : Root
    {
        /// <summary>A reference beside a record: a bad record must not make the reference count twice.</summary>
        [Remote] public long Watch(RemoteReference observer, Item item) => item.Id;

        [Remote] public Item[] EchoItems(Item[] items) => items;

        [Remote] public Order Place(string customer, List<Item> items) => new(customer, items, Priority: 1);

        [Remote] public long Total(Order order) => order.Items.Sum(i => i.Id);
    }

    [Fact]
    public async Task Remote_methods_take_and_return_records_and_callers_read_them_typed_over_real_tcp()
    {
        await using var server = new PbServer(new Shop());
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", server.Port, cancellationToken: Ct);
        RemoteReference shop = await client.GetRootObjectAsync(Ct);

        Item[] items = [new(1, "a", 0.5), new(2, "b", 1.5)];
        Assert.Equal(items, await shop.CallRemoteAsync<Item[]>("echoItems", [items]));
        Order order = await shop.CallRemoteAsync<Order>("place", "cy", items);
        Assert.Equal(new Order("cy", items, Priority: 1).Customer, order.Customer);
        Assert.Equal(items, order.Items);
        Assert.Equal(1, order.Priority);
        // A peer that sends a plain dict (as Twisted does) reaches the typed parameter.
        Assert.Equal(3, await shop.CallRemoteAsync<long>("total", new Dictionary<string, object?>
        {
            ["customer"] = "tw", ["items"] = new List<object?> { new Dictionary<string, object?> { ["id"] = 3L, ["name"] = "c", ["score"] = 0.0 } },
        }));
        // A dict missing a member: the caller gets a TypeError that names it.
        var e = await Assert.ThrowsAsync<RemoteException>(() => shop.CallRemoteAsync<long>("total", new Dictionary<string, object?> { ["items"] = new List<object?>() }));
        Assert.Equal("builtins.TypeError", e.RemoteType);
        Assert.Contains("missing required member 'customer'", e.Message, StringComparison.Ordinal);

        // A reference and a bad record in one call: the call fails naming the member, the reference is counted once
        // (read twice, the server would hold two and send two decrefs, and the second would close this connection).
        var observer = new Observer();
        var bad = await Assert.ThrowsAsync<RemoteException>(() => shop.CallRemoteAsync<long>("watch", observer, new Dictionary<string, object?> { ["id"] = 1L }));
        Assert.Contains("missing required member 'name'", bad.Message, StringComparison.Ordinal);
        PbConnection serverSide = Assert.Single(server.Connections);
        for (int i = 0; i < 50 && client.Connection.ExportedObjectCount > 0; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(20, Ct);
        }
        Assert.Equal(0, client.Connection.ExportedObjectCount);
        Assert.Equal(7, await shop.CallRemoteAsync<long>("watch", observer, new Item(7, "ok", 0)));
        Assert.True(client.Connection.IsConnected);
        Assert.True(serverSide.IsConnected);
    }

    public sealed class Observer : Referenceable
    {
        [Remote] public void Notify() { }
    }
}
