using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Pb.Jelly;
using StackExchange.Redis;
using static Pb.Redis.Tests.ReplicationTests;

namespace Pb.Redis.Tests;

/// <summary>
/// Each fault of issue 14 on real nodes and a real Redis; after each: nothing lost, duplicated or reordered (every
/// replica and every observer's copy equal, each copy's sequence numbers strictly in order).
/// </summary>
[Collection(RedisTests.Name)]
public sealed class FaultTests(RedisServer redis)
{
    private static string Prefix() => "f" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Sums what the replication's instruments (meter Pb.Redis) record while it is alive.</summary>
    private sealed class ReplicationMeters : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, double> _totals = new();

        public ReplicationMeters()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ReplicationMetrics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => _totals.AddOrUpdate(instrument.Name, value, (_, total) => total + value));
            _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => _totals.AddOrUpdate(instrument.Name + ".count", 1, (_, total) => total + 1));
            _listener.Start();
        }

        public double this[string name] => _totals.GetValueOrDefault(name);

        public void Dispose() => _listener.Dispose();
    }

    private static async Task AllEqualAsync(IReadOnlyList<Node> nodes, IReadOnlyList<RoomCopy> copies, long sequence)
    {
        await EventuallyAsync(() => nodes.All(n => n.Room.Sequence == sequence) && copies.All(c => c.Read().Sequence == sequence),
            () => $"nodes {string.Join(",", nodes.Select(n => n.Room.Sequence))}, copies {string.Join(",", copies.Select(c => c.Read().Sequence))}, want {sequence}");
        RoomState first = nodes[0].Room.Read().State;
        foreach (Node node in nodes)
        {
            AssertSame(first, node.Room.Read().State);
        }
        foreach (RoomCopy copy in copies)
        {
            Assert.Empty(copy.Violations);
            Assert.Equal(first.Messages, copy.Read().Messages);
            Assert.Equal(first.Counter, copy.Read().Counter);
        }
    }

    /// <summary>A change put into Redis's log and sequence as the submit script does, but never published: a lost message.</summary>
    private Task SilentChangeAsync(string prefix, string text, int logLength = 10_000) =>
        SilentChangeAsync(prefix, JellySerializer.Serialize(new PbTuple([text])), logLength);

    private async Task SilentChangeAsync(string prefix, byte[] args, int logLength = 10_000, string change = "post")
    {
        await redis.Database.ScriptEvaluateAsync("""
            local seq = tonumber(redis.call('GET', KEYS[1]) or '0') + 1
            redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], seq .. '-0', 'c', ARGV[4], 'a', ARGV[1], 't', ARGV[2])
            redis.call('SET', KEYS[1], seq)
            return seq
            """, [$"{{{prefix}:lobby}}:seq", $"{{{prefix}:lobby}}:log"], [args, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), logLength, change]);
    }

    private async Task<long> RedisSequenceAsync(string prefix) => (long)await redis.Database.StringGetAsync($"{{{prefix}:lobby}}:seq");

    [Fact]
    public async Task A_replica_that_cannot_keep_up_queues_messages_up_to_MaxQueuedBytes_and_reads_the_rest_from_the_log()
    {
        string prefix = Prefix();
        using var meters = new ReplicationMeters();
        await using Node a = await Node.StartAsync(redis, prefix, o =>
        {
            o.MaxQueuedBytes = 16 * 1024;
            o.ChangeTimeout = TimeSpan.FromSeconds(30); // the callers wait while the loop is held
        });
        using var gate = new ManualResetEventSlim(false);
        a.Room.Gate = gate;
        await SilentChangeAsync(prefix, JellySerializer.Serialize(new PbTuple([])), change: "block"); // 1, in the log only
        Task<long> reveal = a.Room.PostAsync("reveal"); // 2 shows the gap: the loop replays 1 and is held in it
        Assert.True(a.Room.Blocked.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        var big = new List<Task<long>>();
        for (int i = 0; i < 5; i++)
        {
            big.Add(a.Room.PostAsync($"{i}{new string('x', 10_000)}")); // 10 KB each: the first fits in 16 KiB, the rest do not
            int sequenced = 3 + i;
            await EventuallyAsync(async () => await RedisSequenceAsync(prefix) == sequenced, () => $"{sequenced} not sequenced");
        }
        await EventuallyAsync(() => meters["pb.replication.changes.dropped"] == 4, () => $"dropped {meters["pb.replication.changes.dropped"]}");
        gate.Set();

        Assert.Equal(2, await reveal);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(3 + i, await big[i]); // each applied, in order, the dropped ones from the log
        }
        RoomState state = a.Room.Read().State;
        Assert.Equal(["reveal", .. Enumerable.Range(0, 5).Select(i => $"{i}{new string('x', 10_000)}")], state.Messages);
        Assert.Equal(4, meters["pb.replication.changes.dropped"]);
    }

    [Fact]
    public async Task A_change_the_log_lost_before_its_node_applied_it_fails_its_caller_instead_of_reporting_success()
    {
        string prefix = Prefix();
        using var meters = new ReplicationMeters();
        await using Node a = await Node.StartAsync(redis, prefix, o =>
        {
            o.LogLength = 10;
            o.SnapshotInterval = 5;
            o.MaxQueuedMessages = 1;
            o.ChangeTimeout = TimeSpan.FromSeconds(30);
        });
        using var gate = new ManualResetEventSlim(false);
        a.Room.Gate = gate;
        await SilentChangeAsync(prefix, JellySerializer.Serialize(new PbTuple([])), change: "block"); // 1, in the log only
        Task<long> reveal = a.Room.PostAsync("reveal"); // 2 shows the gap: the loop replays 1 from the log and is held in it
        Assert.True(a.Room.Blocked.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Task<long> queued = a.Room.PostAsync("queued"); // 3 fills the queue of one
        await EventuallyAsync(async () => await RedisSequenceAsync(prefix) == 3, () => "3 not sequenced");
        Task<long> mine = a.Room.PostAsync("mine"); // 4 finds it full: left to the log
        await EventuallyAsync(async () => await RedisSequenceAsync(prefix) == 4, () => "4 not sequenced");
        var expected = new List<string>();
        for (int i = 5; i <= 14; i++)
        {
            await SilentChangeAsync(prefix, $"m{i}", logLength: 10); // the log now starts at 5, and no snapshot holds 1-4
            expected.Add($"m{i}");
        }
        gate.Set();

        Assert.Equal(2, await reveal); // applied while the log held it
        foreach (Task<long> lost in new[] { queued, mine })
        {
            PbException error = await Assert.ThrowsAsync<PbException>(() => lost);
            Assert.Contains("was not applied on this node: Redis's log no longer held it", error.Message, StringComparison.Ordinal);
            Assert.Contains("look at the state before submitting it again", error.Message, StringComparison.Ordinal);
        }
        await EventuallyAsync(() => a.Room.Sequence == 14, () => $"at {a.Room.Sequence}");
        Assert.Equal(expected, a.Room.Read().State.Messages); // the resync started from the initial state: 1-4 are gone

        Assert.Equal(15, await a.Room.PostAsync("after")); // and the history goes on
        Assert.Equal([.. expected, "after"], a.Room.Read().State.Messages);
        // the metrics say what happened: one gap filled from the log (1, shown by 2), one it could not fill, a resync
        Assert.Equal(1, meters["pb.replication.gaps.repaired"]);
        Assert.Equal(1, meters["pb.replication.resyncs"]);
    }

    [Fact]
    public async Task A_lost_message_is_filled_from_the_log_at_the_next_change_and_by_the_periodic_check_when_none_follows()
    {
        string prefix = Prefix();
        using var meters = new ReplicationMeters();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onB = (await b.ObserveAsync()).Copy;
        await a.Room.PostAsync("one");

        await SilentChangeAsync(prefix, "two (never published)");
        await b.Room.PostAsync("three"); // its message reveals the gap at 2
        await AllEqualAsync([a, b], [onA, onB], 3);
        Assert.Equal(["one", "two (never published)", "three"], a.Room.Read().State.Messages);

        await SilentChangeAsync(prefix, "four (never published, nothing after it)");
        await AllEqualAsync([a, b], [onA, onB], 4);
        Assert.Equal(0, onA.Resyncs + onB.Resyncs); // filled change by change, no reload
        // the metrics say so: every node filled two gaps, applied four changes each (lag recorded for each), no resync
        Assert.True(meters["pb.replication.gaps.repaired"] >= 4, $"gaps repaired: {meters["pb.replication.gaps.repaired"]}");
        Assert.True(meters["pb.replication.changes.applied"] >= 8, $"applied: {meters["pb.replication.changes.applied"]}");
        Assert.True(meters["pb.replication.lag.count"] >= 8);
        Assert.Equal(0, meters["pb.replication.resyncs"]);
    }

    [Fact]
    public async Task A_log_trimmed_past_a_replica_forces_a_resync_from_the_snapshot_and_observers_get_the_whole_state()
    {
        string prefix = Prefix();
        using var meters = new ReplicationMeters();
        Action<RedisReplicationOptions> small = o => { o.LogLength = 10; o.SnapshotInterval = 5; };
        await using Node a = await Node.StartAsync(redis, prefix, small);
        await using Node b = await Node.StartAsync(redis, prefix, small);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onB = (await b.ObserveAsync()).Copy;

        // 30 changes nobody hears of; the log keeps 21-30, and a snapshot at 25 stands for what was trimmed.
        var expected = new List<string>();
        for (int i = 1; i <= 30; i++)
        {
            await SilentChangeAsync(prefix, $"m{i}", logLength: 10);
            expected.Add($"m{i}");
            if (i == 25)
            {
                byte[] state = JellySerializer.Serialize(new RoomState([.. expected], 0));
                string epoch = (string)(await redis.Database.StringGetAsync($"{{{prefix}:lobby}}:epoch"))!;
                await redis.Database.HashSetAsync($"{{{prefix}:lobby}}:snap", [new("s", 25), new("v", state), new("e", epoch)]);
            }
        }
        Assert.Equal(10, await redis.Database.StreamLengthAsync($"{{{prefix}:lobby}}:log"));

        await EventuallyAsync(() => a.Room.Sequence == 30 && b.Room.Sequence == 30 && onA.Read().Sequence == 30 && onB.Read().Sequence == 30,
            () => $"{a.Room.Sequence} {b.Room.Sequence} {onA.Read().Sequence} {onB.Read().Sequence}");
        Assert.Equal(expected, a.Room.Read().State.Messages);
        Assert.Equal(expected, b.Room.Read().State.Messages);
        Assert.Equal(expected, onA.Read().Messages);
        Assert.True(onA.Resyncs >= 1 && onB.Resyncs >= 1);
        Assert.True(meters["pb.replication.resyncs"] >= 2, $"resyncs: {meters["pb.replication.resyncs"]}");

        await a.Room.PostAsync("after the resync"); // and the history goes on, in order
        await AllEqualAsync([a, b], [onA, onB], 31);
    }

    [Fact]
    public async Task A_killed_subscription_loses_nothing()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onB = (await b.ObserveAsync()).Copy;
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i < 200; i++)
            {
                await (i % 2 == 0 ? a : b).Room.PostAsync($"m{i}");
            }
        }, TestContext.Current.CancellationToken);
        for (int kill = 0; kill < 3; kill++)
        {
            await Task.Delay(30, TestContext.Current.CancellationToken);
            await redis.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub"); // every node's subscription, mid-stream
        }
        await writer;
        await AllEqualAsync([a, b], [onA, onB], 200);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"m{i}"), a.Room.Read().State.Messages);
    }

    [Fact]
    public async Task A_paused_Redis_delays_changes_and_loses_nothing()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onB = (await b.ObserveAsync()).Copy;
        await a.Room.PostAsync("before");

        await redis.ExecuteAsync("CLIENT", "PAUSE", "1000", "ALL");
        Task<long> during = b.Room.PostAsync("during the pause"); // waits for Redis, within ChangeTimeout (5 s)
        Task<long> alsoDuring = a.Room.PostAsync("also during");
        await Task.WhenAll(during, alsoDuring);

        await a.Room.PostAsync("after");
        await AllEqualAsync([a, b], [onA, onB], 4);
        Assert.Equal("before", a.Room.Read().State.Messages[0]);
        Assert.Equal("after", a.Room.Read().State.Messages[^1]);
    }

    [Fact]
    public async Task While_Redis_is_down_changes_fail_at_once_and_reads_serve_then_a_restarted_Redis_starts_a_new_epoch_with_the_state_kept()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        (RemoteReference rootOnB, RoomCopy onB) = await b.ObserveAsync();
        RoomCopy onA = (await a.ObserveAsync()).Copy;
        for (int i = 0; i < 5; i++)
        {
            await a.Room.PostAsync($"m{i}");
        }
        await AllEqualAsync([a, b], [onA, onB], 5);
        string epoch = (string)(await redis.Database.StringGetAsync($"{{{prefix}:lobby}}:epoch"))!;

        await redis.KillAsync();
        try
        {
            RemoteException refused = await Assert.ThrowsAsync<RemoteException>(() => rootOnB.CallRemoteAsync<long>("post", "while down"));
            Assert.Contains("cannot change now: its shared state is unavailable", refused.Message, StringComparison.Ordinal);
            RoomCopy late = (await a.ObserveAsync()).Copy; // reads keep serving the last state
            Assert.Equal(5, late.Read().Messages.Count);
        }
        finally
        {
            await redis.StartAgainAsync();
        }

        // The first node to notice starts a new history from its state; the other moves to it; nothing is lost.
        long sequence = 0;
        await EventuallyAsync(() =>
        {
            try
            {
                sequence = rootOnB.CallRemoteAsync<long>("post", "after the restart").GetAwaiter().GetResult();
                return true;
            }
            catch (RemoteException)
            {
                return false; // not reconnected yet
            }
        }, () => "no change went through after the restart");
        Assert.Equal(6, sequence);
        await AllEqualAsync([a, b], [onA, onB], 6);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4", "after the restart"], a.Room.Read().State.Messages);
        Assert.NotEqual(epoch, (string?)await redis.Database.StringGetAsync($"{{{prefix}:lobby}}:epoch"));
    }

    [Fact]
    public async Task A_node_killed_while_others_go_on_and_its_replacement_catches_up()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node c = await Node.StartAsync(redis, prefix);
        Node b = await Node.StartAsync(redis, prefix);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onC = (await c.ObserveAsync()).Copy;
        await b.ObserveAsync();
        Task writers = Task.WhenAll(Task.Run(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await a.Room.PostAsync($"a{i}");
            }
        }, TestContext.Current.CancellationToken), Task.Run(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await c.Room.AddAsync(1);
            }
        }, TestContext.Current.CancellationToken));
        await Task.Delay(50, TestContext.Current.CancellationToken);
        await b.DisposeAsync(); // gone mid-stream, its clients with it
        await writers;
        await AllEqualAsync([a, c], [onA, onC], 200);

        await using Node replacement = await Node.StartAsync(redis, prefix);
        RoomCopy onReplacement = (await replacement.ObserveAsync()).Copy;
        await AllEqualAsync([a, c, replacement], [onA, onC, onReplacement], 200);
        Assert.Equal(100, replacement.Room.Read().State.Counter);
    }

    [Fact]
    public async Task A_logged_change_that_cannot_be_read_is_skipped_alike_on_every_node_and_the_history_goes_on()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onB = (await b.ObserveAsync()).Copy;
        await a.Room.PostAsync("one");
        await SilentChangeAsync(prefix, [0xFF, 0xFF, 0xFF]); // number 2: not banana at all, never published
        await b.Room.PostAsync("three"); // reveals the gap: filled from the log, where 2 cannot be read

        await EventuallyAsync(() => a.Room.Sequence == 3 && b.Room.Sequence == 3 && onA.Read().Sequence == 3 && onB.Read().Sequence == 3,
            () => $"{a.Room.Sequence} {b.Room.Sequence} {onA.Read().Sequence} {onB.Read().Sequence}");
        await using Node late = await Node.StartAsync(redis, prefix); // loads the log with 2 in it
        foreach (Node node in new[] { a, b, late })
        {
            Assert.Equal(["one", "three"], node.Room.Read().State.Messages);
            Assert.Equal(3, node.Room.Sequence);
        }
        Assert.Equal(["one", "three"], onA.Read().Messages);
        Assert.Equal(["one", "three"], onB.Read().Messages);
        await late.Room.PostAsync("four");
        await AllEqualAsync([a, b, late], [], 4);
    }

    // Nodes that check Redis only when a test tells them to: a new node certainly seeds first.
    private static readonly Action<RedisReplicationOptions> Quiet = o => o.CatchUpInterval = TimeSpan.FromHours(1);

    /// <summary>Two quiet nodes holding m0-m4 and their observers, then the object's keys deleted: Redis lost its data.</summary>
    private async Task<(Node A, Node B, RoomCopy OnA, RoomCopy OnB)> TwoNodesThenTheDataLostAsync(string prefix)
    {
        Node a = await Node.StartAsync(redis, prefix, Quiet);
        Node b = await Node.StartAsync(redis, prefix, Quiet);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onB = (await b.ObserveAsync()).Copy;
        for (int i = 0; i < 5; i++)
        {
            await a.Room.PostAsync($"m{i}");
        }
        await AllEqualAsync([a, b], [onA, onB], 5);
        string tag = $"{{{prefix}:lobby}}";
        await redis.Database.KeyDeleteAsync([$"{tag}:epoch", $"{tag}:seq", $"{tag}:log", $"{tag}:snap"]);
        return (a, b, onA, onB);
    }

    [Fact]
    public async Task After_Redis_lost_the_objects_data_a_node_that_never_loaded_it_does_not_erase_the_state_the_running_nodes_hold()
    {
        string prefix = Prefix();
        (Node a, Node b, RoomCopy onA, RoomCopy onB) = await TwoNodesThenTheDataLostAsync(prefix);
        await using Node disposeA = a, disposeB = b;
        await using Node c = await Node.StartAsync(redis, prefix, Quiet); // never loaded: finds nothing, seeds the initial state
        Assert.Empty(c.Room.Read().State.Messages);
        RoomCopy onC = (await c.ObserveAsync()).Copy;
        a.Services.GetRequiredService<RedisReplication>().CatchUpAll(); // a notices: its state goes back in

        await EventuallyAsync(() =>
        {
            c.Services.GetRequiredService<RedisReplication>().CatchUpAll(); // c moves to the history a put back
            return c.Room.Read().State.Messages.Count == 5 && onC.Read().Messages.Count == 5;
        },
            () => $"c has {c.Room.Read().State.Messages.Count} messages");
        b.Services.GetRequiredService<RedisReplication>().CatchUpAll();
        await c.Room.PostAsync("after");
        await AllEqualAsync([a, b, c], [onA, onB], 6);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4", "after"], b.Room.Read().State.Messages);
        Assert.Equal(["m0", "m1", "m2", "m3", "m4", "after"], onC.Read().Messages);
    }

    [Fact]
    public async Task After_Redis_lost_the_objects_data_a_change_through_a_running_node_keeps_its_state_over_the_initial_state_a_new_node_seeded()
    {
        string prefix = Prefix();
        (Node a, Node b, RoomCopy onA, RoomCopy onB) = await TwoNodesThenTheDataLostAsync(prefix);
        await using Node disposeA = a, disposeB = b;
        await using Node c = await Node.StartAsync(redis, prefix, Quiet); // never loaded: seeds the initial state
        Assert.Empty(c.Room.Read().State.Messages);

        // b's next change comes before any check: it puts b's state back first, then goes on top of it
        await b.Room.PostAsync("first after the loss");
        string[] expected = ["m0", "m1", "m2", "m3", "m4", "first after the loss"];
        await EventuallyAsync(() => b.Room.Read().State.Messages.Count == 6, () => $"b has {string.Join(",", b.Room.Read().State.Messages)}");
        Assert.Equal(expected, b.Room.Read().State.Messages);
        foreach (Node node in new[] { a, c })
        {
            await EventuallyAsync(() =>
            {
                node.Services.GetRequiredService<RedisReplication>().CatchUpAll();
                return node.Room.Read().State.Messages.Count == 6;
            }, () => $"has {string.Join(",", node.Room.Read().State.Messages)}");
            Assert.Equal(expected, node.Room.Read().State.Messages);
        }
        await EventuallyAsync(() => onA.Read().Messages.Count == 6 && onB.Read().Messages.Count == 6, () => "copies");
        Assert.Equal(expected, onA.Read().Messages);
        Assert.Equal(expected, onB.Read().Messages);
    }

    [Fact]
    public async Task A_late_message_of_an_earlier_epoch_is_ignored_without_a_resync()
    {
        string prefix = Prefix();
        using var meters = new ReplicationMeters();
        await using Node a = await Node.StartAsync(redis, prefix);
        await using Node b = await Node.StartAsync(redis, prefix);
        RoomCopy onA = (await a.ObserveAsync()).Copy, onB = (await b.ObserveAsync()).Copy;
        await a.Room.PostAsync("one");
        byte[] header = System.Text.Encoding.ASCII.GetBytes($"0123456789abcdef0123456789abcdef 2 {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()} post\n");
        await redis.Database.PublishAsync(RedisChannel.Literal($"{prefix}:lobby:changes"), (RedisValue)(byte[])[.. header, .. JellySerializer.Serialize(new PbTuple(["stale"]))]);
        await b.Room.PostAsync("two"); // published after the stale one, so heard after it

        await AllEqualAsync([a, b], [onA, onB], 2);
        Assert.Equal(["one", "two"], a.Room.Read().State.Messages);
        Assert.Equal(0, meters["pb.replication.resyncs"]);
        Assert.Equal(0, onA.Resyncs + onB.Resyncs);
    }

    [Fact]
    public async Task A_compare_and_set_holds_for_the_epoch_as_well_as_the_sequence_number()
    {
        string tag = $"{{{Prefix()}:cas}}";
        RedisKey[] keys = [$"{tag}:epoch", $"{tag}:seq", $"{tag}:log"];
        await redis.Database.StringSetAsync(keys[0], "e2");
        await redis.Database.StringSetAsync(keys[1], 7);
        RedisValue[] Args(long expected, string epoch) => ["post", new byte[] { 1 }, 0, 100, expected, "none", epoch];

        var refused = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(RedisScripts.Submit, keys, Args(7, "e1")))!;
        Assert.Equal(-1, (long)refused[1]); // the same number in another history is not the state the caller saw
        var accepted = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(RedisScripts.Submit, keys, Args(7, "e2")))!;
        Assert.Equal(8, (long)accepted[1]);
        var any = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(RedisScripts.Submit, keys, Args(-1, "")))!;
        Assert.Equal(9, (long)any[1]);
    }

    [Fact]
    public async Task A_log_page_stops_at_MaxLogReadBytes_with_at_least_one_entry_and_says_when_more_are_left()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix, o => o.SnapshotInterval = 1000);
        for (int i = 0; i < 10; i++)
        {
            await a.Room.PostAsync($"{i}{new string('x', 2_000)}"); // numbers 1-10, about 2 KB each in the log
        }
        string tag = $"{{{prefix}:lobby}}";
        async Task<(long[] Sequences, long Cut)> RangeAsync(long from, int count, long budget)
        {
            var range = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(RedisScripts.Range, [tag + ":epoch", tag + ":log"], [from, count, budget]))!;
            long[] sequences = [.. ((RedisResult[])range[1]!).Select(RedisProtocol.SequenceOfEntry)];
            return (sequences, (long)range[2]);
        }
        (long[] page, long cut) = await RangeAsync(1, 1000, 5_000);
        Assert.Equal([1L, 2L], page); // a third entry would pass 5,000 bytes
        Assert.Equal(1, cut);
        (page, cut) = await RangeAsync(3, 1000, 1);
        Assert.Equal([3L], page); // at least one entry, whatever its size
        Assert.Equal(1, cut);
        (page, cut) = await RangeAsync(4, 1000, 1_000_000);
        Assert.Equal(Enumerable.Range(4, 7).Select(i => (long)i), page); // read 64 at a time, the log's end is no cut
        Assert.Equal(0, cut);
        (page, cut) = await RangeAsync(2, 3, 1_000_000);
        Assert.Equal([2L, 3L, 4L], page); // the count still holds
        Assert.Equal(0, cut);

        var load = (RedisResult[])(await redis.Database.ScriptEvaluateAsync(RedisScripts.Load,
            [tag + ":epoch", tag + ":seq", tag + ":snap", tag + ":log"], [1000, 5_000]))!;
        Assert.Equal([1L, 2L], ((RedisResult[])load[4]!).Select(RedisProtocol.SequenceOfEntry)); // the snapshot is the initial one (0)
        Assert.Equal(1, (long)load[5]);
    }

    [Fact]
    public async Task A_late_node_whose_log_passes_MaxLogReadBytes_loads_part_of_it_then_replays_the_rest_page_by_page()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix, o => o.SnapshotInterval = 1000);
        string[] posts = [.. Enumerable.Range(0, 30).Select(i => $"{i}{new string('x', 2_000)}")];
        foreach (string post in posts)
        {
            await a.Room.PostAsync(post); // 60 KB of log after the (initial) snapshot
        }

        await using Node late = await Node.StartAsync(redis, prefix, o =>
        {
            o.SnapshotInterval = 1000;
            o.MaxLogReadBytes = 16 * 1024; // a resync holds about eight of them, a page as many
        });
        Assert.Equal(30, late.Room.Sequence); // ready with the whole log applied, not only what the resync held
        Assert.Equal(posts, late.Room.Read().State.Messages);
        (_, RoomCopy copy) = await late.ObserveAsync();
        await late.Room.PostAsync("after");
        await AllEqualAsync([a, late], [copy], 31);
    }

    [Fact]
    public async Task After_Redis_lost_the_data_a_state_past_MaxSnapshotSize_is_not_seeded_and_the_change_fails_with_the_limit()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix, o =>
        {
            o.SnapshotInterval = 1000;
            o.MaxSnapshotSize = 4096;
        });
        for (int i = 0; i < 3; i++)
        {
            await a.Room.PostAsync($"{i}{new string('x', 2_000)}"); // the state grows past 4 KiB; the log holds it
        }
        string tag = $"{{{prefix}:lobby}}";
        await redis.Database.KeyDeleteAsync([tag + ":epoch", tag + ":seq", tag + ":log", tag + ":snap"]); // Redis lost the data

        // Seeding it would put a snapshot into Redis that every node with this limit refuses to load.
        PbException error = await Assert.ThrowsAsync<PbException>(() => a.Room.PostAsync("more"));
        Assert.Contains("MaxSnapshotSize (4096)", error.Message);
        Assert.False(await redis.Database.KeyExistsAsync(tag + ":snap"));
        Assert.Equal(3, a.Room.Read().State.Messages.Count); // the node keeps serving what it holds
    }

    [Fact]
    public async Task A_late_node_pages_past_a_thousand_unreadable_log_entries_in_a_row()
    {
        string prefix = Prefix();
        await using Node a = await Node.StartAsync(redis, prefix);
        await a.Room.PostAsync("one");
        // 1,500 entries with a sequence number but no arguments: more than a page (1,000) that cannot be read
        await redis.Database.ScriptEvaluateAsync("""
            local seq = tonumber(redis.call('GET', KEYS[1]))
            for i = 1, 1500 do
                seq = seq + 1
                redis.call('XADD', KEYS[2], seq .. '-0', 'c', 'post', 't', '0')
            end
            redis.call('SET', KEYS[1], seq)
            return seq
            """, [$"{{{prefix}:lobby}}:seq", $"{{{prefix}:lobby}}:log"]);
        await SilentChangeAsync(prefix, "last"); // number 1502

        await using Node late = await Node.StartAsync(redis, prefix); // waited for forever before: the same page read again and again
        Assert.Equal(1502, late.Room.Sequence);
        Assert.Equal(["one", "last"], late.Room.Read().State.Messages);
        await late.Room.PostAsync("after");
        await AllEqualAsync([a, late], [], 1503);
    }

    [Fact]
    public async Task A_change_that_Redis_holds_past_the_timeout_tells_its_caller_it_may_still_be_applied_and_it_is()
    {
        string prefix = Prefix();
        Action<RedisReplicationOptions> impatient = o => o.ChangeTimeout = TimeSpan.FromMilliseconds(300);
        await using Node a = await Node.StartAsync(redis, prefix, impatient);
        await using Node b = await Node.StartAsync(redis, prefix, impatient);
        RoomCopy onB = (await b.ObserveAsync()).Copy;
        await a.Room.PostAsync("before");

        await redis.ExecuteAsync("CLIENT", "PAUSE", "1500", "ALL");
        PbException pending = await Assert.ThrowsAsync<PbException>(() => a.Room.PostAsync("held"));
        // the script waits in Redis and runs when the pause ends: "try again later" would have it applied twice
        Assert.Contains("may still be applied", pending.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Try again later", pending.Message, StringComparison.Ordinal);

        await AllEqualAsync([a, b], [onB], 2);
        Assert.Equal(["before", "held"], b.Room.Read().State.Messages);
    }

    [Fact]
    public async Task A_GetState_that_throws_for_one_observer_in_a_resync_leaves_the_others_and_the_replica_whole()
    {
        string prefix = Prefix();
        Action<RedisReplicationOptions> small = o => { o.LogLength = 10; o.SnapshotInterval = 5; };
        await using Node a = await Node.StartAsync(redis, prefix, small);
        await using Node b = await Node.StartAsync(redis, prefix, small);
        async Task<RoomCopy> WatchAsync(string name)
        {
            RemoteReference root = await b.ConnectAsync();
            return await (await root.CallRemoteAsync<RemoteReference>("watch", name)).CallRemoteAsync<RoomCopy>("room");
        }
        RoomCopy fragile = await WatchAsync("fragile"), other = await WatchAsync("other"); // fragile first: it fails first

        // 20 changes nobody hears of, the log trimmed past them, a snapshot at 15 holding "unshowable": b resyncs
        var expected = new List<string>();
        for (int i = 1; i <= 20; i++)
        {
            string text = i == 3 ? "unshowable" : $"m{i}";
            await SilentChangeAsync(prefix, text, logLength: 5);
            expected.Add(text);
            if (i == 15)
            {
                byte[] state = JellySerializer.Serialize(new RoomState([.. expected], 0));
                string epoch = (string)(await redis.Database.StringGetAsync($"{{{prefix}:lobby}}:epoch"))!;
                await redis.Database.HashSetAsync($"{{{prefix}:lobby}}:snap", [new("s", 15), new("v", state), new("e", epoch)]);
            }
        }
        b.Services.GetRequiredService<RedisReplication>().CatchUpAll();

        await EventuallyAsync(() => b.Room.Sequence == 20 && other.Read().Sequence == 20, () => $"{b.Room.Sequence} {other.Read().Sequence}");
        Assert.Equal(expected, other.Read().Messages); // the resync reached the observer after the failing one
        Assert.Equal(1, other.Resyncs);
        Assert.Equal(0, fragile.Resyncs); // the one whose state could not be made missed it
        long next = await b.Room.PostAsync("after"); // the replica goes on: its submitters are answered
        Assert.Equal(21, next);
        await AllEqualAsync([a, b], [other], 21);
    }
}
