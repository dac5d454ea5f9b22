using System.Net;
using System.Text.Json;
using Pb.Jelly;
using Pb.Tests;

namespace Pb.Interop.Tests;

/// <summary>
/// The broker against real Twisted 22.4, both ways, over real TCP: the Twisted client of python/pb_interop_client.py
/// runs its whole scenario against our server, and our client runs the same scenario against python/pb_interop_server.py.
/// Both scripts implement one contract and pass it with Twisted on both sides.
/// </summary>
public sealed class BrokerInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static BrokerOptions Options() => InteropContract.Options();

    [Fact]
    public async Task A_twisted_client_passes_the_contract_against_our_server()
    {
        // One room and one status for the whole server, so the client's "same object" checks are meaningful.
        var room = new InteropRoom();
        var status = new InteropStatus { Value = 5 };
        await using var server = new PbServer(connection => new InteropRoot(connection, room, status), Options());
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        TwistedScript.ScriptResult result = await TwistedScript.RunUncheckedAsync("pb_interop_client.py",
            ["--host", "127.0.0.1", "--port", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)], [], Ct);

        TwistedScript.AssertScenarioPassed(result, expectedCases: 16);
    }

    [Fact]
    public async Task Our_client_passes_the_contract_against_a_twisted_server()
    {
        await using TwistedServer twisted = await TwistedServer.StartAsync("pb_interop_server.py", Ct);
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", twisted.Port, Options(), cancellationToken: Ct);
        RemoteReference root = await client.GetRootObjectAsync(Ct);

        // echo types: every jelly type comes back as it went, byte for byte once re-encoded.
        var cycle = new List<object?>();
        cycle.Add(cycle);
        object?[] values =
        [
            null, true, 0L, -1L, 1L << 31, System.Numerics.BigInteger.MinusOne - long.MaxValue, System.Numerics.BigInteger.Pow(2, 100), 1.5,
            double.PositiveInfinity, new byte[] { (byte)'b', 0, 0xff }, "text é😀", new List<object?> { 1L, new List<object?> { 2L } },
            new PbTuple(1L, "a"), new PbDictionary { ["a"] = 1L, [new PbTuple(1L, 2L)] = "x"u8.ToArray(), [null] = 2.5 },
            new HashSet<object?>(PbEqualityComparer.Instance) { 1L, 2L }, new PbFrozenSet(3L),
            new DateTime(2024, 2, 29, 13, 45, 30).AddTicks(1_234_560), new DateOnly(1999, 12, 31), new TimeOnly(23, 59, 59).Add(TimeSpan.FromTicks(9_999_990)),
            new TimeSpan(-1, 0, 0, 5), 123.45m,
        ];
        foreach (object? value in values)
        {
            object? back = await root.CallRemoteAsync("echo", value);
            Assert.Equal(PyRepr.Of(value), PyRepr.Of(back));
            Assert.Equal(JellySerializer.Serialize(value), JellySerializer.Serialize(back));
        }
        var echoedCycle = (List<object?>)(await root.CallRemoteAsync("echo", cycle))!;
        Assert.Same(echoedCycle, echoedCycle[0]);

        // add_one and keyword arguments
        Assert.Equal(42, await root.CallRemoteAsync<int>("add_one", 41));
        Assert.Equal([1L, 2L, null], await root.CallRemoteAsync<object?[]>("describe", 1));
        Assert.Equal([1L, 2L, "x"], await root.CallRemoteAsync<object?[]>("describe", [1], new Dictionary<string, object?> { ["c"] = "x" }, Ct));
        Assert.Equal([5L, 6L, null], await root.CallRemoteAsync<object?[]>("describe", [], new Dictionary<string, object?> { ["a"] = 5, ["b"] = 6 }, Ct));

        // remote errors
        var boom = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("fail", "boom"));
        Assert.Equal(("builtins.ValueError", "boom"), (boom.RemoteType, boom.Message));
        Assert.True(boom.Is("builtins.Exception"));
        var missing = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("no_such_method"));
        Assert.Equal("twisted.spread.flavors.NoSuchMethod", missing.RemoteType);
        Assert.True(missing.Is("builtins.AttributeError"));

        // a Referenceable from Twisted, and sent back to it (local)
        RemoteReference counter = await root.CallRemoteAsync<RemoteReference>("get_counter", 10);
        Assert.Equal(11, await counter.CallRemoteAsync<long>("increment"));
        Assert.Equal(16, await counter.CallRemoteAsync<long>("increment", [], new Dictionary<string, object?> { ["by"] = 5 }, Ct));
        Assert.Equal(16, await counter.CallRemoteAsync<long>("total"));
        Assert.Equal(16, await root.CallRemoteAsync<long>("read_counter", counter));

        // Twisted calls back into our Referenceable, with and without answers
        var callback = new InteropCallback { Expected = 5 };
        Assert.Equal(["got", "hi"], await root.CallRemoteAsync<object?[]>("call_back", callback, "hi"));
        Assert.Equal(5, await root.CallRemoteAsync<long>("tick_oneway", callback, 5));
        await callback.AllTicks.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal([0L, 1L, 2L, 3L, 4L], callback.Ticks);

        // Copyables both ways
        InteropPoint p = await root.CallRemoteAsync<InteropPoint>("get_point", 3, 4);
        Assert.Equal((3L, 4L, "p"), (p.X, p.Y, p.Label));
        Assert.Equal(12, await root.CallRemoteAsync<long>("sum_point", new InteropPoint { X = 5, Y = 7, Label = "c" }));

        // decref: Twisted's table empties once we release the counter
        Assert.Equal(1, await root.CallRemoteAsync<int>("exported_count"));
        counter.Dispose();
        Assert.Equal(0, await root.CallRemoteAsync<int>("exported_count"));

        // 1000 calls in flight
        long[] answers = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => root.CallRemoteAsync<long>("add_one", i)));
        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), answers);

        // viewable: a view_ method answers with the perspective (None), and the same room keeps its id
        RemoteReference room = await root.CallRemoteAsync<RemoteReference>("get_room");
        Assert.Equal("nobody: hi", await room.CallRemoteAsync<string>("say", "hi"));
        RemoteReference roomAgain = await root.CallRemoteAsync<RemoteReference>("get_room");
        Assert.Equal(room, roomAgain);
        room.Dispose();
        roomAgain.Dispose();

        // cacheable: one local copy, kept up to date by the owner, released with decache, then copied afresh
        InteropStatusCopy status = await root.CallRemoteAsync<InteropStatusCopy>("get_status");
        Assert.Equal(5, status.Value);
        Assert.Same(status, await root.CallRemoteAsync<InteropStatusCopy>("get_status"));
        Assert.Equal(["cache now 42"], await root.CallRemoteAsync<object?[]>("update_status", 42));
        Assert.Equal(42, status.Value);
        long stoppedBefore = await root.CallRemoteAsync<long>("stopped_count");
        status.Dispose();
        var stoppedWithin = System.Diagnostics.Stopwatch.StartNew();
        while (await root.CallRemoteAsync<long>("stopped_count") != stoppedBefore + 1)
        {
            Assert.True(stoppedWithin.Elapsed < TimeSpan.FromSeconds(3), "stoppedObserving did not run within 3 s of the release");
            await Task.Delay(50, Ct);
        }
        InteropStatusCopy fresh = await root.CallRemoteAsync<InteropStatusCopy>("get_status");
        Assert.NotSame(status, fresh);
        Assert.Equal(42, fresh.Value);

        // disconnect notification, then calls fail at once
        var notified = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = root.NotifyOnDisconnect(_ => notified.TrySetResult());
        Assert.True(await root.CallRemoteAsync<bool>("disconnect_me"));
        await notified.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        await Assert.ThrowsAsync<DeadReferenceException>(() => root.CallRemoteAsync("add_one", 1));
    }
}
