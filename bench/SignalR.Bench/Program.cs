// SignalR side of the WebSocket comparison (docs/benchmarks.md): the same workloads as Pb.BenchClient, on a hub.
// Server: SignalR.Bench server --port N --lifetime S          -> prints "READY port=<port> pid=<pid>", hub at /hub
// Client: SignalR.Bench client --url http://127.0.0.1:N/hub --protocol json|msgpack --workloads W1,W2,W3,W4
//         --warmup S --duration S --depth D --fanout-n N --system NAME --run K
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
double Number(string name, double fallback) => double.Parse(Arg(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

if (args.Length > 0 && args[0] == "server")
{
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseKestrel().UseUrls($"http://127.0.0.1:{Arg("--port", "0")}");
    // The same 16 MiB message limit as Pb.Web (SignalR's default 32 KB would refuse the 1000-dict message of W3).
    builder.Services.AddSignalR(o => o.MaximumReceiveMessageSize = 16 * 1024 * 1024).AddMessagePackProtocol();
    await using WebApplication app = builder.Build();
    app.MapHub<BenchHub>("/hub");
    await app.StartAsync();
    Console.WriteLine($"READY port={new Uri(app.Urls.First()).Port} pid={Environment.ProcessId}");
    await Task.Delay(TimeSpan.FromSeconds(Number("--lifetime", 60)));
    return 0;
}

string url = Arg("--url", "");
string protocol = Arg("--protocol", "msgpack");
string[] workloads = Arg("--workloads", "W1,W2,W3,W4").Split(',', StringSplitOptions.RemoveEmptyEntries);
double warmup = Number("--warmup", 1), duration = Number("--duration", 5);
int depth = (int)Number("--depth", 64);
long fanoutN = (long)Number("--fanout-n", 10000);
string system = Arg("--system", "signalr-" + protocol), run = Arg("--run", "1");

IHubConnectionBuilder hubBuilder = new HubConnectionBuilder().WithUrl(url, o =>
{
    o.Transports = HttpTransportType.WebSockets;
    o.SkipNegotiation = true;
});
if (protocol == "msgpack")
{
    hubBuilder = hubBuilder.AddMessagePackProtocol();
}
await using HubConnection connection = hubBuilder.Build();
long notified = 0;
connection.On<long, string>("notify", (_, _) => Interlocked.Increment(ref notified));
await connection.StartAsync();
object dicts = Enumerable.Range(0, 1000).Select(i => new Dictionary<string, object> { ["id"] = (long)i, ["name"] = $"item-{i}", ["score"] = i * 0.5 }).ToList();
// The typed workloads, as SignalR's users write hubs: records in, records out.
Item[] items = [.. Enumerable.Range(0, 1000).Select(i => new Item(i, $"item-{i}", i * 0.5))];

foreach (string workload in workloads)
{
    Func<double, Task<long>> body = workload switch
    {
        "W1" => secs => Sequential(secs, i => connection.InvokeAsync<object>("Echo", new object[] { i, "abcdefghijklmnop" })),
        "W2" => secs => InFlight(secs, i => connection.InvokeAsync<object>("Echo", new object[] { i, "abcdefghijklmnop" })),
        "W3" => secs => Sequential(secs, _ => connection.InvokeAsync<object>("Echo", dicts), 10_000_000),
        "W4" => Fanout,
        "W1t" => secs => Sequential(secs, i => connection.InvokeAsync<Small>("EchoSmall", new Small(i, "abcdefghijklmnop"))),
        "W2t" => secs => InFlight(secs, i => connection.InvokeAsync<Small>("EchoSmall", new Small(i, "abcdefghijklmnop"))),
        "W3t" => secs => Sequential(secs, _ => connection.InvokeAsync<Item[]>("EchoItems", items), 10_000_000),
        _ => throw new ArgumentException($"unknown workload {workload}"),
    };
    await body(warmup);
    var clock = Stopwatch.StartNew();
    long ops = await body(duration);
    double secs = clock.Elapsed.TotalSeconds;
    Console.WriteLine("RESULT\t" + JsonSerializer.Serialize(new { system, run, workload, ops, secs = Math.Round(secs, 3), ops_per_s = Math.Round(ops / secs, 1) }));
}
return 0;







// W1/W1t/W3/W3t: one call after the other; W2/W2t: `depth` lanes of them. Every loop is bounded by a count and a deadline.
async Task<long> Sequential(double secs, Func<long, Task> call, long limit = 100_000_000)
{
    var clock = Stopwatch.StartNew();
    long i = 0;
    for (; clock.Elapsed.TotalSeconds < secs && i < limit; i++)
    {
        await call(i);
    }
    return i;
}

async Task<long> InFlight(double secs, Func<long, Task> call)
{
    var clock = Stopwatch.StartNew();
    long count = 0;
    async Task Lane()
    {
        for (long i = 0; clock.Elapsed.TotalSeconds < secs && i < 100_000_000; i++)
        {
            await call(i);
            Interlocked.Increment(ref count);
        }
    }
    await Task.WhenAll(Enumerable.Range(0, depth).Select(_ => Lane()));
    return count;
}

async Task<long> Fanout(double secs)
{
    var clock = Stopwatch.StartNew();
    long start = Interlocked.Read(ref notified), sent = 0;
    while (clock.Elapsed.TotalSeconds < secs)
    {
        sent += await connection.InvokeAsync<long>("Fanout", fanoutN, Math.Max(0.1, secs - clock.Elapsed.TotalSeconds));
    }
    // The client may run its handlers after the invocation completed: count what actually arrived (bounded wait).
    var drain = Stopwatch.StartNew();
    while (Interlocked.Read(ref notified) - start < sent && drain.Elapsed < TimeSpan.FromSeconds(10))
    {
        await Task.Delay(1);
    }
    return Interlocked.Read(ref notified) - start;
}

/// <summary>The hub: echo(x), and fanout(n, max_seconds) pushing n notify calls to the caller.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1050", Justification = "A benchmark program's single hub.")]
public sealed class BenchHub : Hub
{
    public object? Echo(object? x) => x;

    public Small EchoSmall(Small s) => s;

    public Item[] EchoItems(Item[] items) => items;

    public async Task<long> Fanout(long n, double maxSeconds)
    {
        var clock = Stopwatch.StartNew();
        long sent = 0;
        for (; sent < n && (sent % 1024 != 0 || clock.Elapsed.TotalSeconds < maxSeconds); sent++)
        {
            await Clients.Caller.SendAsync("notify", sent, "abcdefghijklmnop");
        }
        return sent;
    }
}

/// <summary>W1t/W2t's argument: a number and a short text.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1050", Justification = "A benchmark program's types.")]
public sealed record Small(long I, string Payload);

/// <summary>W3t's element: the same fields as W3's dicts.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1050", Justification = "A benchmark program's types.")]
public sealed record Item(long Id, string Name, double Score);
