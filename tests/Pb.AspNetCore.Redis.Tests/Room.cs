using System.Collections.Concurrent;
using Pb.Jelly;

namespace Pb.Redis.Tests;

/// <summary>A room's state: the posted messages in order and a counter.</summary>
public sealed record RoomState(List<string> Messages, long Counter);

/// <summary>A replicated room: "post" appends, "add" counts, "fail" is refused by Apply on every node alike.</summary>
public sealed class Room(RedisReplication replication, string name) : ReplicatedCacheable<RoomState>(replication, name, new RoomState([], 0))
{
    public const string Tag = "tests.Room";

    public Task<long> PostAsync(string text) => ChangeAsync("post", text);

    public Task<long> AddAsync(long n) => ChangeAsync("add", n);

    public Task<long> FailAsync() => ChangeAsync("fail");

    public Task<long> SendAsync(string change, params object?[] args) => ChangeAsync(change, args);

    /// <summary>"Join unless full": adds one to the counter only while it is below <paramref name="limit"/>, with compare-and-set.</summary>
    public async Task<bool> JoinUnlessFullAsync(long limit)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            long expected;
            lock (SyncRoot)
            {
                if (State.Counter >= limit)
                {
                    return false;
                }
                expected = Sequence;
            }
            if (await ChangeIfAsync(expected, "add", [1L]) is not null)
            {
                return true;
            }
            await Task.Delay(10); // another change came first: let it arrive, then decide again
        }
        throw new TimeoutException("join did not settle");
    }

    public (long Sequence, RoomState State) Read()
    {
        lock (SyncRoot)
        {
            return (Sequence, new RoomState([.. State.Messages], State.Counter));
        }
    }

    /// <summary>While set, the change "block" waits in Apply until it is signalled: this node's loop held mid-change.</summary>
    public ManualResetEventSlim? Gate { get; set; }

    /// <summary>Set when a "block" change starts waiting on <see cref="Gate"/>.</summary>
    public ManualResetEventSlim Blocked { get; } = new();

    protected override RoomState Apply(RoomState state, long sequence, string change, IReadOnlyList<object?> args) => change switch
    {
        "block" => Block(state),
        "post" => state with { Messages = [.. state.Messages, (string)args[0]!] },
        "add" => state with { Counter = state.Counter + Convert.ToInt64(args[0]) },
        "fail" => throw new PbException("This change is refused on every node."),
        _ => throw new PbException($"Unknown change {change}."),
    };

    private RoomState Block(RoomState state)
    {
        if (Gate is { } gate)
        {
            Blocked.Set();
            gate.Wait(TimeSpan.FromSeconds(30));
        }
        return state;
    }

    // A view per perspective, filtered on each node from the one replicated state: a "quiet" watcher never sees posts
    // that start with "secret", neither in its state nor as changes.
    private static bool Hidden(object? perspective, string text) => perspective is Watcher { Name: "quiet" } && text.StartsWith("secret", StringComparison.Ordinal);

    // A "fragile" watcher's state cannot be made once the room holds "unshowable" (a GetState that throws, for one perspective).
    protected override object? GetState(RoomState state, object? perspective) =>
        perspective is Watcher { Name: "fragile" } && state.Messages.Contains("unshowable") ? throw new InvalidOperationException("no state for this watcher") :
        new PbDictionary { ["messages"] = state.Messages.Where(m => !Hidden(perspective, m)).Cast<object?>().ToList(), ["counter"] = state.Counter, ["sequence"] = Sequence };

    protected override object?[]? ObserverArgs(object? perspective, long sequence, string change, IReadOnlyList<object?> args) =>
        change == "post" && Hidden(perspective, (string)args[0]!) ? null : [sequence, .. args];
}

/// <summary>A peer's copy of a room: applies the changes as they come and records any sequence number out of order.</summary>
public sealed class RoomCopy : RemoteCache
{
    private readonly Lock _lock = new();

    public List<object?> Messages { get; set; } = [];
    public long Counter { get; set; }
    public long Sequence { get; set; }
    public ConcurrentQueue<string> Violations { get; } = new();
    public int Resyncs { get; private set; }

    [Remote("post")]
    public void Post(long sequence, string text) => Next(sequence, () => Messages.Add(text));

    [Remote("add")]
    public void Add(long sequence, long n) => Next(sequence, () => Counter += n);

    [Remote("resync")]
    public void Resync(PbDictionary state)
    {
        lock (_lock)
        {
            Resyncs++;
            Messages = [.. (IEnumerable<object?>)state["messages"]!];
            Counter = Convert.ToInt64(state["counter"]);
            Sequence = Convert.ToInt64(state["sequence"]);
        }
    }

    private void Next(long sequence, Action apply)
    {
        lock (_lock)
        {
            if (sequence != Sequence + 1)
            {
                Violations.Enqueue($"got {sequence} after {Sequence}");
            }
            Sequence = sequence;
            apply();
        }
    }

    public (long Sequence, List<string> Messages, long Counter) Read()
    {
        lock (_lock)
        {
            return (Sequence, Messages.Cast<string>().ToList(), Counter);
        }
    }
}

/// <summary>An avatar watching the room: the room it hands out is observed with this watcher as the perspective.</summary>
public sealed class Watcher(Room room, string name) : Avatar
{
    public string Name { get; } = name;

    [Remote("room")] public Room GetRoom() => room;
}

/// <summary>What a PB client of a node sees: the room (a Cacheable) and a post that goes through the node.</summary>
public sealed class TestRoot(Room room) : Referenceable
{
    [Remote("room")] public Room GetRoom() => room;

    [Remote("watch")] public Watcher Watch(string name) => new(room, name);

    [Remote("post")] public Task<long> Post(string text) => room.PostAsync(text);

    [Remote("sendReference")] public Task<long> SendReference() => room.SendAsync("post", new TestRoot(room));
}

