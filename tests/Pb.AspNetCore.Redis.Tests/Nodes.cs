using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
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

    protected override RoomState Apply(RoomState state, string change, IReadOnlyList<object?> args) => change switch
    {
        "post" => state with { Messages = [.. state.Messages, (string)args[0]!] },
        "add" => state with { Counter = state.Counter + Convert.ToInt64(args[0]) },
        "fail" => throw new PbException("This change is refused on every node."),
        _ => throw new PbException($"Unknown change {change}."),
    };

    protected override object? GetState(RoomState state, object? perspective) =>
        new PbDictionary { ["messages"] = state.Messages.Cast<object?>().ToList(), ["counter"] = state.Counter, ["sequence"] = Sequence };

    protected override object?[]? ObserverArgs(object? perspective, long sequence, string change, IReadOnlyList<object?> args) => [sequence, .. args];
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

/// <summary>What a PB client of a node sees: the room (a Cacheable) and a post that goes through the node.</summary>
public sealed class TestRoot(Room room) : Referenceable
{
    [Remote("room")] public Room GetRoom() => room;

    [Remote("post")] public Task<long> Post(string text) => room.PostAsync(text);

    [Remote("sendReference")] public Task<long> SendReference() => room.SendAsync("post", new TestRoot(room));
}

/// <summary>One Pb.Web node: a real Kestrel app with its own services, its own Redis connection and its replica of the room.</summary>
public sealed class Node : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<PbClient> _clients = [];

    private Node(WebApplication app, Uri ws)
    {
        _app = app;
        Ws = ws;
        Room = app.Services.GetRequiredService<Room>();
    }

    public Room Room { get; }

    public Uri Ws { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<Node> StartAsync(RedisServer redis, string prefix, Action<RedisReplicationOptions>? configure = null, string room = "lobby")
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddPerspectiveBroker(o => o.Broker.Jelly.Types.AddCacheable<Room>(Room.Tag))
            .UseRoot((sp, _) => new TestRoot(sp.GetRequiredService<Room>()))
            .AddRedis(redis.Configuration, o =>
            {
                o.KeyPrefix = prefix;
                o.CatchUpInterval = TimeSpan.FromMilliseconds(200);
                o.Configuration.ConnectTimeout = 2000;
                configure?.Invoke(o);
            });
        builder.Services.AddSingleton(sp => new Room(sp.GetRequiredService<RedisReplication>(), room));
        WebApplication app = builder.Build();
        app.UseWebSockets();
        app.MapPerspectiveBroker("/pb");
        await app.StartAsync();
        var http = new Uri(app.Urls.First());
        var node = new Node(app, new Uri($"ws://{http.Host}:{http.Port}/pb"));
        await node.Room.WhenReady.WaitAsync(TimeSpan.FromSeconds(20));
        return node;
    }

    /// <summary>A PB client of this node, over a real WebSocket, and its copy of the room.</summary>
    public async Task<(RemoteReference Root, RoomCopy Copy)> ObserveAsync()
    {
        var options = new BrokerOptions { Jelly = new JellyOptions { Types = new JellyTypeRegistry().Add<RoomCopy>(Room.Tag) } };
        PbClient client = await PbClient.ConnectWebSocketAsync(Ws, options);
        _clients.Add(client);
        RemoteReference root = await client.GetRootObjectAsync();
        var copy = await root.CallRemoteAsync<RoomCopy>("room");
        return (root, copy);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (PbClient client in _clients)
        {
            await client.DisposeAsync();
        }
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}
