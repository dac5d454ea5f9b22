using StackExchange.Redis;

namespace Pb.Redis.Tests;

/// <summary>
/// Several nodes (each a real Kestrel app with its own services and Redis connection) replicating one room through a
/// real Redis; PB clients over real WebSockets observe the room on their node. Every test has its own key prefix.
/// </summary>
[Collection(RedisTests.Name)]
public sealed class ReplicationTests(RedisServer redis)
{
    private static string Prefix() => "t" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Waits (bounded) until <paramref name="done"/> holds; fails with <paramref name="what"/> and the last state otherwise.</summary>
    internal static Task EventuallyAsync(Func<bool> done, Func<string> what, int seconds = 20) =>
        EventuallyAsync(() => Task.FromResult(done()), what, seconds);

    internal static async Task EventuallyAsync(Func<Task<bool>> done, Func<string> what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await done())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Not reached within {seconds} s: {what()}");
            }
            await Task.Delay(20);
        }
    }

    internal static void AssertSame(RoomState expected, RoomState actual)
    {
        Assert.Equal(expected.Counter, actual.Counter);
        Assert.Equal(expected.Messages, actual.Messages);
    }

    [Fact]
    public async Task A_client_on_node_A_sees_a_change_made_through_node_B()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        (_, RoomCopy copyOnA) = await a.ObserveAsync();
        (RemoteReference rootOnB, RoomCopy copyOnB) = await b.ObserveAsync();

        long sequence = await rootOnB.CallRemoteAsync<long>("post", "hello from B");

        Assert.Equal(1, sequence);
        await EventuallyAsync(() => copyOnA.Read().Messages.Count == 1, () => $"A's copy at {copyOnA.Read().Sequence}");
        Assert.Equal(["hello from B"], copyOnA.Read().Messages);
        Assert.Empty(copyOnB.Violations);
        Assert.Equal(["hello from B"], copyOnB.Read().Messages); // applied on B before its call answered
        Assert.Equal(["hello from B"], a.Room.Read().State.Messages);
        Assert.Empty(copyOnA.Violations);
    }

    [Fact]
    public async Task A_late_node_loads_the_latest_snapshot_and_the_log_after_it()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        for (int i = 0; i < 250; i++)
        {
            await a.Room.PostAsync($"m{i}");
        }
        // A wrote snapshots after 100 and 200 (its own changes, every SnapshotInterval): the late node replays the rest.
        long snapshot = 0;
        await EventuallyAsync(() => (snapshot = (long)redis.Database.HashGet($"{{{prefix}:lobby}}:snap", "s")) >= 200, () => $"snapshot at {snapshot}");
        Assert.True(snapshot is >= 200 and <= 250, $"snapshot at {snapshot}"); // written by the submitter, after the change at 200

        await using Node late = await Node.StartAsync(redis, prefix);
        (_, RoomCopy copy) = await late.ObserveAsync();

        Assert.Equal(250, late.Room.Sequence);
        AssertSame(a.Room.Read().State, late.Room.Read().State);
        Assert.Equal(250, copy.Read().Messages.Count);
        Assert.Equal("m249", copy.Read().Messages[^1]);
    }

    [Fact]
    public async Task Concurrent_changes_from_two_nodes_end_equal_everywhere_and_each_observer_sees_them_in_order()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        var copies = new List<RoomCopy>();
        for (int i = 0; i < 2; i++)
        {
            copies.Add((await a.ObserveAsync()).Copy);
            copies.Add((await b.ObserveAsync()).Copy);
        }
        const int perNode = 300;
        async Task WriteAsync(Node node, string who)
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, perNode), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
            {
                if (i % 2 == 0)
                {
                    await node.Room.PostAsync($"{who}{i}");
                }
                else
                {
                    await node.Room.AddAsync(i);
                }
            });
        }
        await Task.WhenAll(WriteAsync(a, "a"), WriteAsync(b, "b"));

        const long total = 2 * perNode;
        await EventuallyAsync(() => a.Room.Sequence == total && b.Room.Sequence == total && copies.All(c => c.Read().Sequence == total),
            () => $"A {a.Room.Sequence}, B {b.Room.Sequence}, copies {string.Join(",", copies.Select(c => c.Read().Sequence))}");
        RoomState onA = a.Room.Read().State;
        AssertSame(onA, b.Room.Read().State);
        long expectedCounter = 2 * Enumerable.Range(0, perNode).Where(i => i % 2 == 1).Sum(i => (long)i);
        Assert.Equal(expectedCounter, onA.Counter);
        Assert.Equal(perNode, onA.Messages.Count);
        Assert.Equal(perNode / 2, onA.Messages.Distinct().Count(m => m.StartsWith('a')));
        foreach (RoomCopy copy in copies)
        {
            Assert.Empty(copy.Violations);
            Assert.Equal(onA.Messages, copy.Read().Messages);
            Assert.Equal(onA.Counter, copy.Read().Counter);
        }
    }

    [Fact]
    public async Task Each_perspective_gets_its_own_view_filtered_on_its_node_from_the_one_replicated_state()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        await a.Room.PostAsync("secret before");
        // each user on a connection of their own (a connection holds one copy of a Cacheable, as in Twisted)
        async Task<RoomCopy> WatchAsync(string name)
        {
            RemoteReference root = await b.ConnectAsync();
            return await (await root.CallRemoteAsync<RemoteReference>("watch", name)).CallRemoteAsync<RoomCopy>("room");
        }
        RoomCopy quiet = await WatchAsync("quiet"), everyone = await WatchAsync("everyone");
        Assert.Empty(quiet.Read().Messages);
        Assert.Equal(["secret before"], everyone.Read().Messages);

        await a.Room.PostAsync("hello");
        await a.Room.PostAsync("secret plan");
        await a.Room.PostAsync("bye");

        await EventuallyAsync(() => everyone.Read().Sequence == 4 && quiet.Read().Sequence == 4, () => $"{everyone.Read().Sequence} {quiet.Read().Sequence}");
        Assert.Equal(["secret before", "hello", "secret plan", "bye"], everyone.Read().Messages);
        Assert.Equal(["hello", "bye"], quiet.Read().Messages); // the same replica, filtered for this perspective
        Assert.Empty(everyone.Violations);
        Assert.Equal(["got 4 after 2"], quiet.Violations); // a filtered view skips the numbers of what it does not see
        Assert.Equal(4, b.Room.Read().State.Messages.Count);
    }

    [Fact]
    public async Task Compare_and_set_admits_exactly_as_many_as_the_limit_across_nodes()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        bool[] joined = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? a : b).Room.JoinUnlessFullAsync(limit: 10)));

        Assert.Equal(10, joined.Count(j => j));
        await EventuallyAsync(() => a.Room.Read().State.Counter == 10 && b.Room.Read().State.Counter == 10, () => $"{a.Room.Read().State.Counter} {b.Room.Read().State.Counter}");
    }

    [Fact]
    public async Task A_change_that_Apply_refuses_fails_its_caller_and_is_skipped_on_every_node()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        await a.Room.PostAsync("before");

        PbException refused = await Assert.ThrowsAsync<PbException>(() => b.Room.FailAsync());
        Assert.Equal("This change is refused on every node.", refused.Message);
        await b.Room.PostAsync("after");

        await EventuallyAsync(() => a.Room.Sequence == 3, () => $"{a.Room.Sequence}");
        Assert.Equal(["before", "after"], a.Room.Read().State.Messages);
        Assert.Equal(["before", "after"], b.Room.Read().State.Messages);
    }

    [Fact]
    public async Task A_change_carrying_a_reference_is_refused_with_a_clear_error()
    {
        await using Node a = await Node.StartAsync(redis, Prefix());
        (RemoteReference root, _) = await a.ObserveAsync();

        RemoteException error = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync<long>("sendReference"));

        Assert.Contains("cannot be replicated", error.Message, StringComparison.Ordinal);
        Assert.Contains("a reference means something on one connection only", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, a.Room.Sequence);
    }
}
