using Pb.Banana;
using Pb.Jelly;

namespace Pb.Tests.Broker;

/// <summary>The broker end to end: a C# client and a C# server over a real TCP socket.</summary>
public sealed class BrokerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Calls_carry_every_jelly_type_both_ways()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var cycle = new List<object?>();
        cycle.Add(cycle);
        object?[] values =
        [
            null, true, 0L, -1L, (long)int.MaxValue + 1, System.Numerics.BigInteger.Pow(2, 100), 1.5, double.PositiveInfinity,
            new byte[] { 0, 0xff }, "text é😀", new List<object?> { 1L, new List<object?> { 2L } }, new PbTuple(1L, "a"),
            new PbDictionary { ["a"] = 1L, [new PbTuple(1L, 2L)] = "x"u8.ToArray(), [null] = 2.5 },
            new HashSet<object?>(PbEqualityComparer.Instance) { 1L, 2L }, new PbFrozenSet(3L),
            new DateTime(2024, 2, 29, 13, 45, 30), new DateOnly(1999, 12, 31), new TimeOnly(23, 59, 59), TimeSpan.FromSeconds(-5), 123.45m,
        ];
        foreach (object? value in values)
        {
            object? back = await root.CallRemoteAsync("echo", value);
            Assert.Equal(JellySerializer.Serialize(value), JellySerializer.Serialize(back));
        }
        var echoed = (List<object?>)(await root.CallRemoteAsync("echo", cycle))!;
        Assert.Same(echoed, echoed[0]);
    }

    [Fact]
    public async Task Calls_made_by_the_continuations_of_one_batch_of_answers_all_arrive_even_when_one_blocks_on_its_own()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        // 64 calls in flight: their answers come back in batches, and each continuation (run inline where the batch
        // completes) makes its next call at once; those leave together, so they must all still be answered.
        long[] results = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            long a = await root.CallRemoteAsync<long>("add_one", (long)i);
            return await root.CallRemoteAsync<long>("add_one", a);
        }));
        Assert.Equal(Enumerable.Range(2, 64).Select(i => (long)i), results);

        // A continuation that blocks on the answer to the call it just made (sync over async) while its batch is held:
        // the held call still leaves, so the answer comes and nothing hangs.
        var blocked = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = root.CallRemoteAsync<long>("add_one", 1L).ContinueWith(t =>
        {
            try
            {
                blocked.SetResult(root.CallRemoteAsync<long>("add_one", t.Result).GetAwaiter().GetResult());
            }
            catch (Exception e)
            {
                blocked.SetException(e);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Assert.Equal(3, await blocked.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct));
    }

    [Fact]
    public async Task Methods_bind_positional_and_keyword_arguments()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        Assert.Equal(42, await root.CallRemoteAsync<int>("add_one", 41));
        Assert.Equal([1L, 2L, null], await root.CallRemoteAsync<object?[]>("describe", 1));
        Assert.Equal([1L, 2L, "x"], await root.CallRemoteAsync<object?[]>("describe", [1], new Dictionary<string, object?> { ["c"] = "x" }, Ct));
        Assert.Equal([5L, 6L, null], await root.CallRemoteAsync<object?[]>("describe", [], new Dictionary<string, object?> { ["a"] = 5, ["b"] = 6 }, Ct));
        Assert.Equal(7, await root.CallRemoteAsync<long>("slowAdd", 3, 4));
    }

    [Fact]
    public async Task Bad_calls_get_an_error_for_that_call_only()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);

        var fail = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("fail", "boom"));
        Assert.Equal(("builtins.ValueError", "boom"), (fail.RemoteType, fail.Message));
        Assert.True(fail.Is("builtins.Exception"));

        var missing = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("nope"));
        Assert.Equal("twisted.spread.flavors.NoSuchMethod", missing.RemoteType);
        Assert.Equal("No such method: remote_nope", missing.Message);

        var tooMany = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("add_one", 1, 2));
        Assert.Equal("builtins.TypeError", tooMany.RemoteType);
        Assert.Contains("takes 1 positional argument but 2 were given", tooMany.Message, StringComparison.Ordinal);

        var badType = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("add_one", "x"));
        Assert.Contains("argument 'n'", badType.Message, StringComparison.Ordinal);

        var unknownKeyword = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("describe", [1], new Dictionary<string, object?> { ["z"] = 1 }, Ct));
        Assert.Contains("unexpected keyword argument 'z'", unknownKeyword.Message, StringComparison.Ordinal);

        // An unexpected exception's text stays on the server unless DetailedErrors is on.
        var hidden = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("crash"));
        Assert.Equal("builtins.Exception", hidden.RemoteType);
        Assert.DoesNotContain("secret", hidden.Message, StringComparison.Ordinal);

        // A result that cannot be sent becomes an error for that call.
        var unsendable = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("unsendable"));
        Assert.Contains("UnregisteredThing", unsendable.Message, StringComparison.Ordinal);

        // The connection is still fine.
        Assert.Equal(2, await root.CallRemoteAsync<int>("add_one", 1));
    }

    [Fact]
    public async Task Detailed_errors_send_the_type_message_and_traceback()
    {
        var options = BrokerTestHost.Options(detailedErrors: true);
        options.IncludeTracebacks = true;
        await using var host = await BrokerTestHost.StartAsync(serverOptions: options);
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var e = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("crash"));
        Assert.Equal("System.InvalidOperationException", e.RemoteType);
        Assert.Equal("secret connection string", e.Message);
        Assert.Contains("TestRoot.Crash", e.RemoteTraceback, StringComparison.Ordinal);
        Assert.True(e.Is("System.SystemException"));
    }

    [Fact]
    public async Task Referenceables_travel_as_references_and_come_home_as_the_object()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        using var counter = await root.CallRemoteAsync<RemoteReference>("getCounter", 10);
        Assert.Equal(11, await counter.CallRemoteAsync<long>("increment"));
        Assert.Equal(16, await counter.CallRemoteAsync<long>("increment", [], new Dictionary<string, object?> { ["by"] = 5 }, Ct));
        Assert.Equal(16, await counter.CallRemoteAsync<long>("total"));
        Assert.Equal(16, await root.CallRemoteAsync<long>("readCounter", counter));
        Assert.Equal(1, host.Server.Connections.Single().ExportedObjectCount);
    }

    [Fact]
    public async Task Disposing_references_empties_the_exporters_table()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var counters = new List<RemoteReference>();
        for (int i = 0; i < 5; i++)
        {
            counters.Add(await root.CallRemoteAsync<RemoteReference>("getCounter", i));
        }
        PbConnection serverSide = host.Server.Connections.Single();
        Assert.Equal(5, serverSide.ExportedObjectCount);
        foreach (RemoteReference counter in counters)
        {
            await counter.DisposeAsync();
        }
        // The decrefs travel after the disposals; an answered call after them proves they arrived.
        Assert.Equal(1, await root.CallRemoteAsync<int>("add_one", 0));
        Assert.Equal(0, serverSide.ExportedObjectCount);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => counters[0].CallRemoteAsync("total"));
    }

    [Fact]
    public async Task The_server_calls_back_into_client_objects_with_and_without_answers()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var callback = new ClientCallback { Expected = 5 };
        Assert.Equal(["got", "hi"], await root.CallRemoteAsync<object?[]>("callBack", callback, "hi"));
        Assert.Equal(5, await root.CallRemoteAsync<long>("tickOneWay", callback, 5));
        await callback.AllTicks.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal([0L, 1L, 2L, 3L, 4L], callback.Ticks);
    }

    [Fact]
    public async Task Copyables_travel_both_ways()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        Point p = await root.CallRemoteAsync<Point>("getPoint", 3, 4);
        Assert.Equal((3, 4, "p"), (p.X, p.Y, p.Label));
        Assert.Equal(12, await root.CallRemoteAsync<int>("sumPoint", new Point { X = 5, Y = 7 }));
    }

    [Fact]
    public async Task A_thousand_calls_in_flight_all_get_their_answers()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        Task<long>[] calls = Enumerable.Range(0, 1000).Select(i => root.CallRemoteAsync<long>("add_one", i)).ToArray();
        long[] answers = await Task.WhenAll(calls);
        Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), answers);
    }

    [Fact]
    public async Task Losing_the_connection_fails_pending_calls_and_notifies()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var notified = new TaskCompletionSource<RemoteReference>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = root.NotifyOnDisconnect(r => notified.TrySetResult(r));
        Task<object?> pending = root.CallRemoteAsync("waitForever");
        Assert.Equal(2, await root.CallRemoteAsync<int>("add_one", 1)); // the waiting call is on the server now

        await host.Server.Connections.Single().DisposeAsync();

        await Assert.ThrowsAsync<ConnectionLostException>(() => pending);
        Assert.Same(root, await notified.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.False(root.IsConnected);
        await Assert.ThrowsAsync<DeadReferenceException>(() => root.CallRemoteAsync("add_one", 1));
    }

    [Fact]
    public async Task Cancelling_a_call_does_not_break_the_connection()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        using var cts = new CancellationTokenSource();
        Task<long> slow = root.CallRemoteAsync<long>("slowAdd", [1, 2], null, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);
        await Task.Delay(50, Ct); // the late answer arrives and is dropped
        Assert.Equal(2, await root.CallRemoteAsync<int>("add_one", 1));
    }

    [Fact]
    public async Task Both_dialects_work()
    {
        var clientOptions = BrokerTestHost.Options();
        clientOptions.PreferredDialect = BananaDialect.None;
        await using var host = await BrokerTestHost.StartAsync(clientOptions: clientOptions);
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        Assert.Equal(BananaDialect.None, host.Client.Connection.Dialect);
        Assert.Equal("message", await root.CallRemoteAsync<string>("echo", "message"));
    }

    [Fact]
    public async Task A_bad_frame_closes_only_that_connection()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        using var rogue = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await rogue.ConnectAsync(System.Net.IPAddress.Loopback, host.Server.Port, Ct);
        // Choose "pb", then a string header claiming 4 GB.
        await rogue.SendAsync(new byte[] { 0x02, 0x82, 0x70, 0x62, 0x02, 0x01, 0x01, 0x01, 0x01, 0x82 }, System.Net.Sockets.SocketFlags.None, Ct);
        byte[] sink = new byte[1024];
        int total = 0, n;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        while ((n = await rogue.ReceiveAsync(sink, System.Net.Sockets.SocketFlags.None, timeout.Token)) > 0)
        {
            total += n;
        }
        Assert.True(total > 0); // the offer and version came, then the server closed
        Assert.Equal(6, await root.CallRemoteAsync<int>("add_one", 5));
        // The server forgets the rogue connection once its shutdown completes (it closed the socket first).
        foreach (PbConnection closed in host.Server.Connections.Where(c => c.CloseReason is not null).ToList())
        {
            Assert.IsType<Pb.Banana.BananaException>(closed.CloseReason);
            await closed.Completion.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        }
        for (int i = 0; i < 100 && host.Server.Connections.Count > 1; i++)
        {
            await Task.Delay(20, Ct); // the server's bookkeeping runs just after Completion
        }
        Assert.Single(host.Server.Connections);
    }

    [Fact]
    public async Task A_viewable_sees_each_caller_through_its_own_avatar()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        using var alice = await root.CallRemoteAsync<RemoteReference>("join", "alice");
        using var bob = await root.CallRemoteAsync<RemoteReference>("join", "bob");
        Assert.Equal("alice", await alice.CallRemoteAsync<string>("whoAmI"));

        using var aliceRoom = await alice.CallRemoteAsync<RemoteReference>("getRoom");
        using var bobRoom = await bob.CallRemoteAsync<RemoteReference>("getRoom");
        Assert.Equal("alice: hi", await aliceRoom.CallRemoteAsync<string>("say", "hi"));
        Assert.Equal("bob: hello", await bobRoom.CallRemoteAsync<string>("say", "hello"));
        Assert.NotEqual(aliceRoom, bobRoom);

        // The same viewable for the same avatar keeps its id (Twisted reuses the ViewPoint).
        using var aliceRoomAgain = await alice.CallRemoteAsync<RemoteReference>("getRoom");
        Assert.Equal(aliceRoom, aliceRoomAgain);

        // Sent outside any avatar's call, the viewable has no perspective.
        using var lobby = await root.CallRemoteAsync<RemoteReference>("lobby");
        Assert.Equal("nobody: hey", await lobby.CallRemoteAsync<string>("say", "hey"));
    }

    [Fact]
    public async Task A_cacheable_is_copied_once_kept_up_to_date_and_released()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        StatusCopy copy = await root.CallRemoteAsync<StatusCopy>("getStatus");
        Assert.Equal(5, copy.Value);
        // The second send is ["cached", id]: the same local object.
        Assert.Same(copy, await root.CallRemoteAsync<StatusCopy>("getStatus"));
        Assert.Single(host.RootObject.Board.Observers);

        // The owner pushes an update through its observer (cachemessage) and gets the copy's answer.
        Assert.Equal(["cache now 42"], await root.CallRemoteAsync<object?[]>("updateStatus", 42));
        Assert.Equal(42, copy.Value);

        // Sent back, the copy arrives at the owner as the Cacheable itself (lcache).
        Assert.True(await root.CallRemoteAsync<bool>("isBoard", copy));

        // Released: one decache per copy received, then the owner stops observing and sends uncache.
        copy.Dispose();
        await host.RootObject.Board.Stopped.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Empty(host.RootObject.Board.Observers);
        Assert.Equal(0, host.Server.Connections.Single().ExportedObjectCount);

        // Sent again after that, it is a fresh copy with the current state.
        StatusCopy again = await root.CallRemoteAsync<StatusCopy>("getStatus");
        Assert.NotSame(copy, again);
        Assert.Equal(42, again.Value);
    }

    [Fact]
    public async Task Disconnecting_stops_every_observer()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        _ = await root.CallRemoteAsync<StatusCopy>("getStatus");
        await host.Client.DisposeAsync();
        await host.RootObject.Board.Stopped.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Empty(host.RootObject.Board.Observers);
    }
}
