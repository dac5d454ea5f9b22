// Scale-out benchmark (docs/benchmarks.md, "Scale-out"): two Pb.Web nodes sharing a ReplicatedCacheable through Redis,
// beside two SignalR nodes with the Redis backplane sending to a group, in one run, on one Redis of its own.
//   S1  cross-node latency at a paced rate (--rate, 1,000 changes/s): a client of node A changes, a client of node B hears
//   S2  saturation: --in-flight senders as fast as they can; changes/s through one object and latency
//   S3  fan-out: one change to --observers clients spread over both nodes; time until the last one has it
//   S4  replay (Pb.Web only: SignalR's backplane keeps nothing): a replica that starts after 1,000 changes since the snapshot
//   R   the Redis leg alone, at the paced rate: the submit script against a PUBLISH of the same bytes (what SignalR's
//       backplane sends), from one StackExchange.Redis connection to a subscriber on another; Redis's own time per call
// PB_BENCH_STAGES=1 also prints, for S1, how long after the send a change reached node A's method and each node's Apply.
// Usage: dotnet run --project bench/Pb.ScaleOut.Bench -c Release -- [--seconds 5] [--rate 1000] [--in-flight 64] [--observers 1000] [--only S1,S2,S3,S4]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pb;
using Pb.Jelly;
using Pb.Redis;
using Pb.ScaleOutBench;

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

int i0 = Array.IndexOf(args, "--only");
string[] only = i0 >= 0 && i0 + 1 < args.Length ? args[i0 + 1].Split(',') : ["S1", "S2", "S3", "S4", "R"];
int seconds = Arg("--seconds", 5), rate = Arg("--rate", 1000), inFlight = Arg("--in-flight", 64), observers = Arg("--observers", 1000);
int redisPort = FreePort();
using Process redis = Process.Start(new ProcessStartInfo("/usr/bin/redis-server")
{
    ArgumentList = { "--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning" },
    RedirectStandardOutput = true,
})!;
await WaitForPortAsync(redisPort);
string redisAddress = $"127.0.0.1:{redisPort}";
var results = new List<(string Workload, string System, string Figure, double Value)>();
try
{
    // ---- Pb.Web: two nodes, one replicated object ----
    await using WebApplication pbA = await PbNodeAsync(redisAddress, "A"), pbB = await PbNodeAsync(redisAddress, "B");
    var pbClients = new List<PbClient>();
    async Task<(RemoteReference Root, TickCopy Copy)> PbObserveAsync(WebApplication node)
    {
        var client = await PbClient.ConnectWebSocketAsync(WsOf(node), new BrokerOptions { Jelly = new JellyOptions { Types = new JellyTypeRegistry().Add<TickCopy>(TickRoom.Tag) } });
        pbClients.Add(client);
        RemoteReference root = await client.GetRootObjectAsync();
        return (root, await root.CallRemoteAsync<TickCopy>("room"));
    }
    (RemoteReference pbSender, _) = await PbObserveAsync(pbA);
    (_, TickCopy pbObserver) = await PbObserveAsync(pbB);
    Task PbSend(long sent) => pbSender.CallRemoteAsync("tick", sent);

    // ---- SignalR: two nodes with the Redis backplane, a group across them ----
    await using WebApplication srA = await SignalRNodeAsync(redisAddress), srB = await SignalRNodeAsync(redisAddress);
    var srClients = new List<HubConnection>();
    async Task<(HubConnection Connection, Recorder Recorder)> SrObserveAsync(WebApplication node)
    {
        var recorder = new Recorder();
        HubConnection connection = new HubConnectionBuilder().WithUrl(new Uri(HttpOf(node), "/hub"), o =>
        {
            o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets;
            o.SkipNegotiation = true;
        }).Build();
        connection.On<long>("tick", recorder.Record);
        await connection.StartAsync();
        await connection.InvokeAsync("Join");
        srClients.Add(connection);
        return (connection, recorder);
    }
    (HubConnection srSender, _) = await SrObserveAsync(srA);
    (_, Recorder srObserver) = await SrObserveAsync(srB);
    Task SrSend(long sent) => srSender.InvokeAsync("Tick", sent);

    // warm both up
    await PacedAsync(PbSend, pbObserver.Recorder, 500, 1);
    await PacedAsync(SrSend, srObserver, 500, 1);

    foreach ((string system, Func<long, Task> send, Recorder recorder) in only.Contains("S1") ? new[] { ("pbweb", (Func<long, Task>)PbSend, pbObserver.Recorder), ("signalr-redis", SrSend, srObserver) } : [])
    {
        foreach (Recorder stage in Stages.All.Values)
        {
            stage.Reset();
        }
        (double p50, double p99, double received) = await PacedAsync(send, recorder, rate, seconds);
        foreach ((string stage, Recorder r) in Stages.All.OrderBy(s => s.Key))
        {
            if (r.Count > 0)
            {
                Console.Error.WriteLine($"{system}: {stage}: p50 {r.Percentile(0.5):0.000} p90 {r.Percentile(0.9):0.000} ms ({r.Count})");
            }
        }
        results.Add(("S1", system, $"p50 ms at {rate}/s", p50));
        results.Add(("S1", system, $"p99 ms at {rate}/s", p99));
        results.Add(("S1", system, "delivered per s", received));
    }
    foreach ((string system, Func<long, Task> send, Recorder recorder) in only.Contains("S2") ? new[] { ("pbweb", (Func<long, Task>)PbSend, pbObserver.Recorder), ("signalr-redis", SrSend, srObserver) } : [])
    {
        (double perSecond, double p50, double p99) = await SaturateAsync(send, recorder, inFlight, seconds);
        results.Add(("S2", system, "changes/s (one object)", perSecond));
        results.Add(("S2", system, "p50 ms", p50));
        results.Add(("S2", system, "p99 ms", p99));
    }

    // S3: fan-out to many observers over both nodes
    var pbFan = new List<Recorder>();
    var srFan = new List<Recorder>();
    for (int i = 0; i < (only.Contains("S3") ? observers : 0); i++)
    {
        pbFan.Add((await PbObserveAsync(i % 2 == 0 ? pbA : pbB)).Copy.Recorder);
        srFan.Add((await SrObserveAsync(i % 2 == 0 ? srA : srB)).Recorder);
    }
    if (only.Contains("S3"))
    {
        Console.Error.WriteLine($"S3 start pid={Environment.ProcessId}");
        // both warmed up first (the JIT tiers up the paths of 1,000 connections, some shared by both), then measured
        await FanOutAsync(PbSend, pbFan, 40);
        await FanOutAsync(SrSend, srFan, 40);
        if (int.TryParse(Environment.GetEnvironmentVariable("PB_BENCH_PROFILE_FANOUT"), out int profileRounds))
        {
            Console.Error.WriteLine($"profile pid={Environment.ProcessId}"); // a window for perf record -p
            await FanOutAsync(PbSend, pbFan, profileRounds);
        }
        results.Add(("S3", "pbweb", $"ms until all {observers} have one change (median of 20)", await FanOutAsync(PbSend, pbFan, 20)));
        results.Add(("S3", "signalr-redis", $"ms until all {observers} have one change (median of 20)", await FanOutAsync(SrSend, srFan, 20)));
    }

    // S4: a replica that starts after 1,000 changes since the latest snapshot (an object of its own: its snapshot is
    // the seed at 0, and SnapshotInterval 5000 writes none in between)
    await using var early = new TickRoom(pbA.Services.GetRequiredService<RedisReplication>(), "replay");
    await early.WhenReady;
    for (int i = 0; i < 1000; i++)
    {
        await early.TickAsync(0);
    }
    await using var late = new RedisReplication(Options.Create(Settings(redisAddress)));
    var stopwatch = Stopwatch.StartNew();
    await late.ConnectionAsync(CancellationToken.None); // a new node's own Redis connection, timed apart from the replay
    double connect = stopwatch.Elapsed.TotalMilliseconds;
    stopwatch.Restart();
    await using var lateRoom = new TickRoom(late, "replay");
    await lateRoom.WhenReady;
    results.Add(("S4", "pbweb", $"ms to load and replay {lateRoom.Sequence - lateRoom.SnapshotSequence} changes", stopwatch.Elapsed.TotalMilliseconds));
    results.Add(("S4", "pbweb", "ms for the late node to connect to Redis first", connect));
    results.Add(("S4", "signalr-redis", "ms to replay missed messages", double.NaN));

    if (only.Contains("R"))
    {
        await RedisLegAsync(redisAddress, rate, results);
    }

    foreach (PbClient client in pbClients)
    {
        await client.DisposeAsync();
    }
    foreach (HubConnection connection in srClients)
    {
        await connection.DisposeAsync();
    }
}
finally
{
    redis.Kill();
}

Directory.CreateDirectory("artifacts/load");
await File.WriteAllLinesAsync("artifacts/load/scaleout.tsv", results.Select(r => $"{r.Workload}\t{r.System}\t{r.Figure}\t{r.Value:0.###}"));
Console.WriteLine("| workload | figure | pbweb | signalr-redis |");
Console.WriteLine("|---|---|---:|---:|");
foreach (var group in results.GroupBy(r => (r.Workload, Figure: r.Figure.Replace(" (one object)", ""))))
{
    string Cell(string system) => group.FirstOrDefault(r => r.System == system) is { Workload: not null } r && !double.IsNaN(r.Value) ? r.Value.ToString(r.Value >= 100 ? "N0" : "0.00", System.Globalization.CultureInfo.InvariantCulture) : "-";
    Console.WriteLine($"| {group.Key.Workload} | {group.First().Figure} | {Cell("pbweb")} | {Cell("signalr-redis")} |");
}
return 0;

// Sends at a fixed rate (without waiting for answers, as a steady stream of users would) and reports what the observer saw.
static async Task<(double P50, double P99, double PerSecond)> PacedAsync(Func<long, Task> send, Recorder recorder, int rate, int seconds)
{
    recorder.Reset();
    int total = rate * seconds;
    var pending = new List<Task>(total);
    long start = Stopwatch.GetTimestamp();
    for (int i = 0; i < total; i++)
    {
        long due = start + (long)(i * (double)Stopwatch.Frequency / rate);
        while (Stopwatch.GetTimestamp() < due)
        {
            if (due - Stopwatch.GetTimestamp() > Stopwatch.Frequency / 1000)
            {
                await Task.Delay(1);
            }
            else
            {
                Thread.SpinWait(50);
            }
        }
        pending.Add(send(Stopwatch.GetTimestamp()));
    }
    await Task.WhenAll(pending);
    await recorder.WaitForAsync(total);
    double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
    return (recorder.Percentile(0.50), recorder.Percentile(0.99), recorder.Count / elapsed);
}

static async Task<(double PerSecond, double P50, double P99)> SaturateAsync(Func<long, Task> send, Recorder recorder, int inFlight, int seconds)
{
    recorder.Reset();
    long sent = 0;
    var end = DateTime.UtcNow.AddSeconds(seconds);
    long start = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
    {
        while (DateTime.UtcNow < end)
        {
            await send(Stopwatch.GetTimestamp());
            Interlocked.Increment(ref sent);
        }
    }));
    await recorder.WaitForAsync(sent);
    double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
    return (recorder.Count / elapsed, recorder.Percentile(0.50), recorder.Percentile(0.99));
}

static async Task<double> FanOutAsync(Func<long, Task> send, List<Recorder> all, int rounds)
{
    var times = new List<double>();
    for (int round = 0; round < rounds; round++)
    {
        foreach (Recorder r in all)
        {
            r.Reset();
        }
        long sentAt = Stopwatch.GetTimestamp();
        await send(sentAt);
        foreach (Recorder r in all)
        {
            await r.WaitForAsync(1);
        }
        long last = all.Max(r => r.LastAt);
        times.Add(Stopwatch.GetElapsedTime(sentAt, last).TotalMilliseconds);
    }
    times.Sort();
    return times[times.Count / 2];
}

// The submit script (sequence number, log entry, publish) against one PUBLISH of the same change, paced, 3 rounds each
// alternating: the latency from the call to the subscriber's callback, and Redis's time per call (INFO commandstats).
static async Task RedisLegAsync(string redis, int rate, List<(string Workload, string System, string Figure, double Value)> results)
{
    await using var sender = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis + ",allowAdmin=true");
    await using var receiver = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis);
    StackExchange.Redis.IDatabase db = sender.GetDatabase();
    StackExchange.Redis.IServer server = sender.GetServer(sender.GetEndPoints()[0]);
    var keys = new RedisKeys("bench-r", "leg");
    await db.StringSetAsync(keys.Epoch, "e1");
    byte[] arguments = JellySerializer.Serialize(new PbTuple(Stopwatch.GetTimestamp()));
    byte[] published = [.. "e1 1 1733000000000 tick\n"u8, .. arguments];
    long sentAt = 0;
    var latencies = new ConcurrentQueue<double>();
    StackExchange.Redis.ChannelMessageQueue queue = await receiver.GetSubscriber().SubscribeAsync(keys.Channel);
    queue.OnMessage(_ => latencies.Enqueue(Stopwatch.GetElapsedTime(Volatile.Read(ref sentAt)).TotalMilliseconds));
    var medians = new Dictionary<string, List<double>> { ["script"] = [], ["publish"] = [] };
    var usPerCall = new Dictionary<string, List<double>> { ["script"] = [], ["publish"] = [] };
    int count = Math.Max(1000, rate * 3);
    for (int round = 0; round < 3; round++)
    {
        foreach (string mode in new[] { "script", "publish" })
        {
            latencies.Clear();
            await server.ExecuteAsync("CONFIG", "RESETSTAT");
            for (int i = 0; i < count; i++)
            {
                long due = Stopwatch.GetTimestamp() + Stopwatch.Frequency / rate;
                Volatile.Write(ref sentAt, Stopwatch.GetTimestamp());
                if (mode == "script")
                {
                    await db.ScriptEvaluateAsync(RedisScripts.Submit, [keys.Epoch, keys.Sequence, keys.Log, keys.Snapshot],
                        ["tick", arguments, 1733000000000, 20_000, -1, keys.Channel.ToString(), "", "e1"]); // as a loaded node sends it
                }
                else
                {
                    await db.PublishAsync(keys.Channel, published);
                }
                while (Stopwatch.GetTimestamp() < due)
                {
                    Thread.SpinWait(20);
                }
            }
            for (int wait = 0; wait < 100 && latencies.Count < count; wait++)
            {
                await Task.Delay(10);
            }
            double[] sorted = [.. latencies.Order()];
            medians[mode].Add(sorted[sorted.Length / 2]);
            string stats = (string)(await server.ExecuteAsync("INFO", "commandstats"))!;
            string command = mode == "script" ? "cmdstat_evalsha:" : "cmdstat_publish:";
            string line = stats.Split('\n').First(l => l.StartsWith(command, StringComparison.Ordinal));
            usPerCall[mode].Add(double.Parse(line.Split(',').First(f => f.StartsWith("usec_per_call=", StringComparison.Ordinal))["usec_per_call=".Length..], System.Globalization.CultureInfo.InvariantCulture));
        }
    }
    double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
    results.Add(("R", "pbweb", $"Redis leg p50 ms at {rate}/s (script / PUBLISH)", Median(medians["script"])));
    results.Add(("R", "signalr-redis", $"Redis leg p50 ms at {rate}/s (script / PUBLISH)", Median(medians["publish"])));
    results.Add(("R", "pbweb", "Redis leg: us in Redis per call", Median(usPerCall["script"])));
    results.Add(("R", "signalr-redis", "Redis leg: us in Redis per call", Median(usPerCall["publish"])));
}

static RedisReplicationOptions Settings(string redis)
{
    var options = new RedisReplicationOptions { KeyPrefix = "bench", SnapshotInterval = 5000, LogLength = 20_000 };
    options.Configuration = StackExchange.Redis.ConfigurationOptions.Parse(redis);
    return options;
}

static async Task<WebApplication> PbNodeAsync(string redis, string node)
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.UseKestrel(k => k.Limits.MaxConcurrentConnections = null).UseUrls("http://127.0.0.1:0");
    builder.Logging.ClearProviders();
    builder.Services.AddPerspectiveBroker(o => o.Broker.Jelly.Types.AddCacheable<TickRoom>(TickRoom.Tag))
        .UseRoot((sp, _) => new TickRoot(sp.GetRequiredService<TickRoom>()))
        .AddRedis(redis, o =>
        {
            RedisReplicationOptions s = Settings(redis);
            (o.KeyPrefix, o.SnapshotInterval, o.LogLength) = (s.KeyPrefix, s.SnapshotInterval, s.LogLength);
        });
    builder.Services.AddSingleton(sp => new TickRoom(sp.GetRequiredService<RedisReplication>()) { Node = node });
    WebApplication app = builder.Build();
    app.UseWebSockets();
    app.MapPerspectiveBroker("/pb");
    await app.StartAsync();
    await app.Services.GetRequiredService<TickRoom>().WhenReady;
    return app;
}

static async Task<WebApplication> SignalRNodeAsync(string redis)
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
    builder.Logging.ClearProviders();
    builder.Services.AddSignalR().AddStackExchangeRedis(redis, o => o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal("sr-bench"));
    WebApplication app = builder.Build();
    app.UseWebSockets();
    app.MapHub<TickHub>("/hub");
    await app.StartAsync();
    return app;
}

static Uri HttpOf(WebApplication app) => new(app.Urls.First());

static Uri WsOf(WebApplication app) => new($"ws://{HttpOf(app).Host}:{HttpOf(app).Port}/pb");

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static async Task WaitForPortAsync(int port)
{
    for (int i = 0; i < 200; i++)
    {
        try
        {
            using var socket = new TcpClient();
            await socket.ConnectAsync(IPAddress.Loopback, port);
            return;
        }
        catch (SocketException)
        {
            await Task.Delay(50);
        }
    }
    throw new TimeoutException("redis-server did not start");
}

