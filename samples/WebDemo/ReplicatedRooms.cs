using Pb;
using Pb.Redis;

namespace WebDemo;

/// <summary>A message in a replicated room's state (its id is the sequence number of the change that posted it).</summary>
public sealed record RoomMessage(long Id, string Author, string Text, bool Edited)
{
    public Dictionary<string, object?> ToWire() => new() { ["id"] = Id, ["author"] = Author, ["text"] = Text, ["edited"] = Edited };
}

/// <summary>
/// A replicated room's state, the same on every node: the last messages, the counter, and who is present on which node
/// (<c>"node|user"</c> to how many of that user's copies observe there).
/// </summary>
public sealed record RoomData(List<RoomMessage> Messages, long Counter, Dictionary<string, int> Present);

/// <summary>
/// The demo's room shared by several demo nodes through Redis (started with <c>--Redis=host:port</c>): the same page,
/// the same observer calls (<c>posted</c>, <c>edited</c>, <c>counter</c>, <c>members</c>, and <c>resync</c> after a
/// jump) as <see cref="Room"/>, but every change goes through Redis so browsers on any node see it. Presence is counted
/// per node; a node that dies without saying goodbye leaves its members listed (a known limit of the demo).
/// </summary>
public sealed class ReplicatedRoom : ReplicatedCacheable<RoomData>, IRoom
{
    private static readonly string s_node = Guid.NewGuid().ToString("N")[..8];
    private readonly RoomOptions _options;

    public ReplicatedRoom(RedisReplication replication, string name, RoomOptions options)
        : base(replication, "webdemo." + name, new RoomData([], 0, []))
    {
        RoomName = name;
        _options = options;
        Desk = new RoomDesk(this);
    }

    public string RoomName { get; }

    string IRoom.Name => RoomName;

    public RoomDesk Desk { get; }

    Cacheable IRoom.Cacheable => this;

    public Task<long> PostAsync(string author, string text) => ChangeAsync("post", author, RoomDirectory.Checked(text, _options));

    public Task EditAsync(string editor, long id, string text) => ChangeAsync("edit", editor, id, RoomDirectory.Checked(text, _options));

    public async Task<long> BumpAsync()
    {
        await ChangeAsync("bump");
        lock (SyncRoot)
        {
            return State.Counter; // at least this change's value (later bumps may have come already)
        }
    }

    protected override RoomData Apply(RoomData state, long sequence, string change, IReadOnlyList<object?> args)
    {
        switch (change)
        {
            case "post":
                List<RoomMessage> messages = [.. state.Messages, new RoomMessage(sequence, (string)args[0]!, (string)args[1]!, false)];
                return state with { Messages = messages.Count > _options.HistoryLength ? messages[^_options.HistoryLength..] : messages };
            case "edit":
                string editor = (string)args[0]!;
                long id = Convert.ToInt64(args[1]);
                int index = state.Messages.FindIndex(m => m.Id == id);
                if (index < 0)
                {
                    throw new PbException($"Message {id} is not in this room's history any more.") { RemoteTypeName = "builtins.KeyError" };
                }
                if (state.Messages[index].Author != editor)
                {
                    throw new PbException($"Only {state.Messages[index].Author} can edit this message.") { RemoteTypeName = "webdemo.Forbidden" };
                }
                List<RoomMessage> edited = [.. state.Messages];
                edited[index] = edited[index] with { Text = (string)args[2]!, Edited = true };
                return state with { Messages = edited };
            case "bump":
                return state with { Counter = state.Counter + 1 };
            case "present":
                var present = new Dictionary<string, int>(state.Present);
                string key = $"{args[0]}|{args[1]}";
                int n = present.GetValueOrDefault(key) + Convert.ToInt32(args[2]);
                if (n > 0)
                {
                    present[key] = n;
                }
                else
                {
                    present.Remove(key);
                }
                return state with { Present = present };
            default:
                throw new PbException($"Unknown change {change}.");
        }
    }

    protected override string ObserverMethod(string change) => change switch
    {
        "post" => "posted",
        "edit" => "edited",
        "bump" => "counter",
        _ => "members",
    };

    protected override object?[]? ObserverArgs(object? perspective, long sequence, string change, IReadOnlyList<object?> args) => change switch
    {
        "post" => [State.Messages[^1].ToWire()],
        "edit" => [args[1], args[2]],
        "bump" => [State.Counter],
        _ => [Members(State)],
    };

    protected override object? GetState(RoomData state, object? perspective) => new Dictionary<string, object?>
    {
        ["name"] = RoomName,
        ["members"] = Members(state),
        ["messages"] = state.Messages.Select(m => m.ToWire()).ToList(),
        ["counter"] = state.Counter,
    };

    private static List<string> Members(RoomData state) =>
        [.. state.Present.Keys.Select(k => k[(k.IndexOf('|', StringComparison.Ordinal) + 1)..]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    protected override void OnObserving(object? perspective, IRemoteCacheObserver observer) => Present(perspective, +1);

    protected override void OnStoppedObserving(object? perspective, IRemoteCacheObserver observer) => Present(perspective, -1);

    private void Present(object? perspective, int delta)
    {
        if (perspective is Member member)
        {
            // presence is best effort: a change that fails (Redis away) is dropped, and the page still works
            _ = ChangeAsync("present", s_node, member.Name, delta).ContinueWith(static t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
        }
    }
}
