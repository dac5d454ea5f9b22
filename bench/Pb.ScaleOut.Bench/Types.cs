using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.SignalR;
using Pb;
using Pb.Jelly;
using Pb.Redis;

namespace Pb.ScaleOutBench;

/// <summary>Latencies of what one observer received (each message carries its send time, same process and clock).</summary>
internal sealed class Recorder
{
    private readonly ConcurrentQueue<double> _latencies = new();
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public long LastAt { get; private set; }

    public void Record(long sent)
    {
        long now = Stopwatch.GetTimestamp();
        if (sent > 0)
        {
            _latencies.Enqueue(Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds);
        }
        LastAt = now;
        Interlocked.Increment(ref _count);
    }

    public void Reset()
    {
        _latencies.Clear();
        Interlocked.Exchange(ref _count, 0);
    }

    public async Task WaitForAsync(long count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(1);
        }
    }

    public double Percentile(double p)
    {
        double[] sorted = [.. _latencies.Order()];
        return sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
    }
}

/// <summary>Stage probes (PB_BENCH_STAGES=1): latency from the send to where a change got to, per stage.</summary>
internal static class Stages
{
    public static readonly bool On = Environment.GetEnvironmentVariable("PB_BENCH_STAGES") == "1";
    public static readonly ConcurrentDictionary<string, Recorder> All = new();

    public static void Mark(string stage, long sent)
    {
        if (On)
        {
            All.GetOrAdd(stage, _ => new Recorder()).Record(sent);
        }
    }
}

/// <summary>The replicated object: each change carries its send time; observers get "tick"(sent).</summary>
public sealed record TickState(long Count, long Last);

public sealed class TickRoom(RedisReplication replication, string name = "ticks") : ReplicatedCacheable<TickState>(replication, name, new TickState(0, 0))
{
    public const string Tag = "bench.Ticks";

    public long SnapshotSequence { get; private set; } = -1;

    /// <summary>The node's name in the stage probes.</summary>
    public string Node { get; init; } = "";

    public Task<long> TickAsync(long sent) => ChangeAsync("tick", sent);

    protected override TickState Apply(TickState state, long sequence, string change, IReadOnlyList<object?> args)
    {
        if (SnapshotSequence < 0)
        {
            SnapshotSequence = sequence - 1; // the first change this replica applies follows the state it loaded
        }
        long sent = Convert.ToInt64(args[0]);
        if (Stages.On)
        {
            Stages.Mark($"pb node {Node} applied", sent);
        }
        return new TickState(state.Count + 1, sent);
    }

    protected override object? GetState(TickState state, object? perspective) => new PbDictionary { ["count"] = state.Count };
}

public sealed class TickRoot(TickRoom room) : Referenceable
{
    [Remote("room")] public TickRoom Room() => room;

    [Remote("tick")] public Task<long> Tick(long sent)
    {
        Stages.Mark("pb node A call", sent);
        return room.TickAsync(sent);
    }
}

public sealed class TickCopy : RemoteCache
{
    public long Count { get; set; }

    internal Recorder Recorder { get; } = new();

    [Remote("tick")] public void Tick(long sent) => Recorder.Record(sent);
}

public sealed class TickHub : Hub
{
    public Task Join() => Groups.AddToGroupAsync(Context.ConnectionId, "room");

    public Task Tick(long sent)
    {
        Stages.Mark("sr node A call", sent);
        return Clients.Group("room").SendAsync("tick", sent);
    }
}
