using System.Net;
using Pb.Jelly;

namespace Pb.Tests.Broker;

/// <summary>The objects the broker tests call, and a real TCP server and client around them.</summary>
public sealed class TestRoot : Root
{
    public List<long> Ticks { get; } = [];

    [Remote] public object? Echo(object? x) => x;

    [Remote("add_one")] public long AddOne(long n) => n + 1;

    [Remote] public object?[] Describe(long a, long b = 2, string? c = null) => [a, b, c];

    [Remote] public void Fail(string message) => throw new PbException(message) { RemoteTypeName = "builtins.ValueError" };

    [Remote] public void Crash() => throw new InvalidOperationException("secret connection string");

    [Remote] public async Task<long> SlowAddAsync(long a, long b)
    {
        await Task.Delay(10);
        return a + b;
    }

    // Called by the one test that reads the call activities: the ActivityListener sees every test's calls, so that test
    // needs methods nobody else calls.
    [Remote("traced_slow")] public Task<long> TracedSlowAsync(long a, long b) => SlowAddAsync(a, b);

    [Remote("traced_add_one")] public long TracedAddOne(long n) => n + 1;

    [Remote] public Counter GetCounter(long start) => new() { Total = start };

    [Remote] public long ReadCounter(object? counter) =>
        counter is Counter c ? c.Total : throw new PbException("not my counter") { RemoteTypeName = "builtins.TypeError" };

    [Remote] public Task<object?> CallBack(RemoteReference callback, object? value) => callback.CallRemoteAsync("got", value);

    [Remote] public long TickOneWay(RemoteReference callback, long n)
    {
        for (long i = 0; i < n; i++)
        {
            callback.CallRemoteOneWay("tick", i);
        }
        return n;
    }

    [Remote] public Point GetPoint(int x, int y) => new() { X = x, Y = y, Label = "p" };

    [Remote] public int SumPoint(Point p) => p.X + p.Y;

    [Remote] public object Unsendable() => new UnregisteredThing();

    [Remote] public async Task<long> WaitForeverAsync(CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return 0;
    }

    public StatusBoard Board { get; } = new() { Value = 5 };

    [Remote] public StatusBoard GetStatus() => Board;

    [Remote] public async Task<object?[]> UpdateStatusAsync(long value)
    {
        Board.Value = value;
        var answers = new List<object?>();
        foreach (IRemoteCacheObserver observer in Board.Observers.ToArray())
        {
            answers.Add(await observer.CallRemoteAsync("setValue", value));
        }
        return [.. answers];
    }

    [Remote] public bool IsBoard(object? value) => ReferenceEquals(value, Board);

    [Remote] public StatusBoard NewBoard(long value) => new() { Value = value };

    [Remote] public byte[][] Big(int count, int size) => [.. Enumerable.Range(0, count).Select(_ => new byte[size])];

    /// <summary>Pushes <paramref name="count"/> one-way calls of <paramref name="size"/> bytes from another thread.</summary>
    [Remote] public void PushMany(RemoteReference callback, long count, long size)
    {
        _ = Task.Run(() =>
        {
            try
            {
                for (long i = 0; i < count; i++)
                {
                    callback.CallRemoteOneWay("tick", new byte[size]);
                }
            }
            catch (Exception e) when (e is ConnectionLostException or DeadReferenceException)
            {
                PushStopped.TrySetResult(e);
            }
        });
    }

    public TaskCompletionSource<Exception> PushStopped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Remote] public ChatUser Join(string name) => new(name, Room);

    [Remote] public ChatRoom Lobby() => Room;

    public ChatRoom Room { get; } = new();

    internal sealed class UnregisteredThing;
}

public sealed class StatusBoard : Cacheable
{
    public long Value { get; set; }

    public List<IRemoteCacheObserver> Observers { get; } = [];

    public TaskCompletionSource Stopped { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override object? GetStateToCacheAndObserveFor(object? perspective, IRemoteCacheObserver observer)
    {
        Observers.Add(observer);
        return new Dictionary<string, object?> { ["value"] = Value };
    }

    public override void StoppedObserving(object? perspective, IRemoteCacheObserver observer)
    {
        Observers.Remove(observer);
        Stopped.TrySetResult();
    }
}

public sealed class StatusCopy : RemoteCache
{
    public long Value { get; set; }

    [Remote] public string SetValue(long value)
    {
        Value = value;
        return $"cache now {value}";
    }
}

public sealed class ChatUser(string name, ChatRoom room) : Avatar
{
    public string Name { get; } = name;

    [Remote] public ChatRoom GetRoom() => room;

    [Remote] public string WhoAmI() => Name;

    /// <summary>A server-initiated call that passes the room (a Viewable) to the client's listener.</summary>
    [Remote] public Task<object?> OfferRoom(RemoteReference listener) => listener.CallRemoteAsync("take", room);
}

public sealed class ChatRoom : Viewable
{
    [Remote] public string Say(ChatUser? who, string text) => $"{who?.Name ?? "nobody"}: {text}";
}

public sealed class Counter : Referenceable
{
    public long Total { get; set; }

    [Remote] public long Increment(long by = 1) => Total += by;

    [Remote("total")] public long GetTotal() => Total;
}

public sealed class Point : Copyable
{
    public int X { get; set; }
    public int Y { get; set; }
    public string? Label { get; set; }
}

public sealed class ClientCallback : Referenceable
{
    public List<long> Ticks { get; } = [];

    public TaskCompletionSource AllTicks { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Expected { get; set; }

    [Remote] public object?[] Got(object? value) => ["got", value];

    [Remote] public void Tick(long i)
    {
        lock (Ticks)
        {
            Ticks.Add(i);
            if (Ticks.Count == Expected)
            {
                AllTicks.TrySetResult();
            }
        }
    }
}

internal sealed class BrokerTestHost : IAsyncDisposable
{
    public static BrokerOptions Options(bool detailedErrors = false) => new()
    {
        Jelly = new JellyOptions
        {
            Types = new JellyTypeRegistry().Add<Point>("pbinterop.Point").AddCacheable<StatusBoard>("pbvectors.Status").Add<StatusCopy>("pbvectors.Status"),
        },
        DetailedErrors = detailedErrors,
    };

    private BrokerTestHost(PbServer server, PbClient client, TestRoot root)
    {
        Server = server;
        Client = client;
        RootObject = root;
    }

    public PbServer Server { get; }
    public PbClient Client { get; }
    public TestRoot RootObject { get; }

    public static async Task<BrokerTestHost> StartAsync(BrokerOptions? serverOptions = null, BrokerOptions? clientOptions = null)
    {
        var root = new TestRoot();
        var server = new PbServer(root, serverOptions ?? Options());
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        PbClient client = await PbClient.ConnectAsync("127.0.0.1", server.Port, clientOptions ?? Options(), cancellationToken: TestContext.Current.CancellationToken);
        return new BrokerTestHost(server, client, root);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
