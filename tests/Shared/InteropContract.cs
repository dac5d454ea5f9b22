using Pb.Jelly;

namespace Pb.Interop.Tests;

/// <summary>
/// The interop contract of python/pb_interop_server.py in C#: Pb.Interop.Tests serves it to a Twisted client, and the
/// TypeScript client's functional server (tests/Pb.Js.Client.Tests/FunctionalServer) serves it over TCP and WebSocket.
/// </summary>
internal static class InteropContract
{
    /// <summary>The contract's copied and cached classes, registered both ways.</summary>
    public static BrokerOptions Options() => new()
    {
        Jelly = new JellyOptions
        {
            Types = new JellyTypeRegistry()
                .Add<InteropPoint>("pbinterop.Point")
                .Add<InteropStatusCopy>("pbinterop.Status") // what a received Status becomes (holder side)
                .AddCacheable<InteropStatus>("pbinterop.Status"), // how our Status is sent (owner side)
        },
    };
}

/// <summary>The contract of python/pb_interop_server.py, in C#: the Twisted client runs its scenario against this.</summary>
internal sealed class InteropRoot(PbConnection connection, InteropRoom room, InteropStatus status) : Root
{
    [Remote("echo")] public object? Echo(object? x) => x;

    [Remote("add_one")] public object AddOne(object n) => n is double d ? d + 1 : (object)(JellyConvert.To<System.Numerics.BigInteger>(n) + 1);

    [Remote("describe")] public object?[] Describe(object? a, object? b = null, object? c = null) => [a, b ?? 2L, c];

    [Remote("fail")] public void Fail(string message) => throw new PbException(message) { RemoteTypeName = "builtins.ValueError" };

    [Remote("get_counter")] public InteropCounter GetCounter(long start) => new() { Total = start };

    [Remote("read_counter")] public long ReadCounter(object? counter) =>
        counter is InteropCounter c ? c.Total : throw new PbException("not my counter") { RemoteTypeName = "builtins.TypeError" };

    [Remote("call_back")] public Task<object?> CallBack(RemoteReference callback, object? value) => callback.CallRemoteAsync("got", value);

    [Remote("tick_oneway")] public long TickOneWay(RemoteReference callback, long n)
    {
        for (long i = 0; i < n; i++)
        {
            callback.CallRemoteOneWay("tick", i);
        }
        return n;
    }

    [Remote("get_point")] public InteropPoint GetPoint(long x, long y) => new() { X = x, Y = y, Label = "p" };

    [Remote("sum_point")] public long SumPoint(InteropPoint point) => point.X + point.Y;

    [Remote("exported_count")] public int ExportedCount() => connection.ExportedObjectCount;

    // get_room(): the server's single Viewable (same id each time on one connection: same viewable, no perspective).
    [Remote("get_room")] public InteropRoom GetRoom() => room;

    // get_status(): the server's single Cacheable, tag "pbinterop.Status", state {"value": <int>}.
    [Remote("get_status")] public InteropStatus GetStatus() => status;

    // update_status(v): sets the value, pushes setValue(v) to every current observer, answers their answers.
    [Remote("update_status")] public Task<List<object?>> UpdateStatus(long v) => status.UpdateAsync(v);

    // stopped_count(): how many times the status's StoppedObserving has run.
    [Remote("stopped_count")] public int StoppedCount() => status.StoppedCount;

    [Remote("disconnect_me")] public bool DisconnectMe()
    {
        _ = Task.Delay(50).ContinueWith(_ => connection.DisposeAsync().AsTask(), TaskScheduler.Default);
        return true;
    }
}

/// <summary>The contract's Viewable (Twisted's <c>Room.view_say</c>).</summary>
internal sealed class InteropRoom : Viewable
{
    // say(text): "<perspective>: <text>", with "nobody" for no perspective (sent from a root method).
    [Remote("say")] public string Say(object? perspective, string text) => $"{perspective ?? "nobody"}: {text}";
}

/// <summary>The contract's Cacheable (Twisted's <c>Status</c>): state {"value": Value}, pushed to every observer.</summary>
internal sealed class InteropStatus : Cacheable
{
    private readonly List<IRemoteCacheObserver> _observers = [];
    private long _value;
    private int _stoppedCount;

    public long Value
    {
        get => Interlocked.Read(ref _value);
        set => Interlocked.Exchange(ref _value, value);
    }

    public int StoppedCount => Volatile.Read(ref _stoppedCount);

    public override object? GetStateToCacheAndObserveFor(object? perspective, IRemoteCacheObserver observer)
    {
        lock (_observers)
        {
            _observers.Add(observer);
        }
        return new Dictionary<string, object?> { ["value"] = Value };
    }

    public override void StoppedObserving(object? perspective, IRemoteCacheObserver observer)
    {
        lock (_observers)
        {
            _observers.Remove(observer);
        }
        Interlocked.Increment(ref _stoppedCount);
    }

    /// <summary>Sets the value and calls setValue(v) on every current observer; their answers, in order.</summary>
    public async Task<List<object?>> UpdateAsync(long v)
    {
        Value = v;
        IRemoteCacheObserver[] observers;
        lock (_observers)
        {
            observers = [.. _observers];
        }
        return [.. await Task.WhenAll(observers.Select(o => o.CallRemoteAsync("setValue", v)))];
    }
}

/// <summary>Our copy of a "pbinterop.Status" Cacheable (Twisted's <c>RemoteStatus</c>); Value comes from state key "value".</summary>
public sealed class InteropStatusCopy : RemoteCache
{
    private long _value;

    public long Value
    {
        get => Interlocked.Read(ref _value);
        set => Interlocked.Exchange(ref _value, value);
    }

    // setValue(v): the owner pushes a new value; answers "cache now <v>".
    [Remote("setValue")] public string SetValue(long v)
    {
        Value = v;
        return $"cache now {v}";
    }
}

internal sealed class InteropCounter : Referenceable
{
    public long Total { get; set; }

    [Remote("increment")] public long Increment(long by = 1) => Total += by;

    [Remote("total")] public long GetTotal() => Total;
}

public sealed class InteropPoint : Copyable
{
    public long X { get; set; }
    public long Y { get; set; }
    public string? Label { get; set; }
}

internal sealed class InteropCallback : Referenceable
{
    public List<long> Ticks { get; } = [];

    public TaskCompletionSource AllTicks { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Expected { get; set; }

    [Remote("got")] public object?[] Got(object? value) => ["got", value];

    [Remote("tick")] public void Tick(long i)
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
