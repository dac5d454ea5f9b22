// The benchmark client of the load contract (docs/benchmarks.md). Every loop is bounded by a count and a deadline.
// Usage: Pb.BenchClient --transport tcp --host H --port P --workloads W1,W2,W3,W4,W4a --warmup S --duration S
//        --depth D --fanout-n N --max-total S --system NAME --run K [--server-pid PID]
//        (--transport ws --url ws://H:P/pb [--subprotocol pb.banana|pb.msgpack])
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pb;

string transport = Arg("--transport", "tcp");
string host = Arg("--host", "127.0.0.1");
int port = int.Parse(Arg("--port", "0"), CultureInfo.InvariantCulture);
string[] workloads = Arg("--workloads", "W1,W2,W3,W4,W4a").Split(',', StringSplitOptions.RemoveEmptyEntries);
double warmup = Double("--warmup", 1);
double duration = Double("--duration", 5);
int depth = (int)Double("--depth", 64);
long fanoutN = (long)Double("--fanout-n", 10000);
double maxTotal = Double("--max-total", 120);
string system = Arg("--system", "pbweb");
string run = Arg("--run", "1");
string url = Arg("--url", "");
string subProtocol = Arg("--subprotocol", "pb.banana");
if (transport is not ("tcp" or "ws") || (transport == "ws" && url.Length == 0))
{
    Console.Error.WriteLine("Use --transport tcp --host H --port P, or --transport ws --url ws://H:P/pb.");
    return 2;
}

var total = Stopwatch.StartNew();
await using PbClient client = transport == "ws"
    ? await PbClient.ConnectWebSocketAsync(new Uri(url), subProtocol == "pb.msgpack" ? Pb.AspNetCore.PbMessagePackTranscoder.Instance : null)
    : await PbClient.ConnectAsync(host, port);
RemoteReference root = await client.GetRootObjectAsync();
var observer = new Observer();
Item[] items = [.. Enumerable.Range(0, 1000).Select(i => new Item(i, $"item-{i}", i * 0.5))];
object?[] dicts = [Enumerable.Range(0, 1000).Select(i => (object?)new Dictionary<string, object?> { ["id"] = (long)i, ["name"] = $"item-{i}", ["score"] = i * 0.5 }).ToList()];

foreach (string workload in workloads)
{
    if (total.Elapsed.TotalSeconds > maxTotal)
    {
        break;
    }
    Func<double, Task<long>> body = workload switch
    {
        "W1" => secs => Sequential(secs, i => root.CallRemoteAsync("echo", new List<object?> { i, "abcdefghijklmnop" })),
        "W2" => secs => InFlight(secs, i => root.CallRemoteAsync("echo", new List<object?> { i, "abcdefghijklmnop" })),
        "W3" => secs => Sequential(secs, _ => root.CallRemoteAsync("echo", dicts), 10_000_000),
        "W4" => secs => Fanout(secs, oneway: true),
        "W4a" => secs => Fanout(secs, oneway: false),
        "W1t" => secs => Sequential(secs, i => root.CallRemoteAsync<Small>("echoSmall", new Small(i, "abcdefghijklmnop"))),
        "W2t" => secs => InFlight(secs, i => root.CallRemoteAsync<Small>("echoSmall", new Small(i, "abcdefghijklmnop"))),
        "W3t" => secs => Sequential(secs, _ => root.CallRemoteAsync<Item[]>("echoItems", [items]), 10_000_000),
        _ => throw new ArgumentException($"unknown workload {workload}"),
    };
    await body(warmup);
    var clock = Stopwatch.StartNew();
    long ops = await body(duration);
    double secs = clock.Elapsed.TotalSeconds;
    Console.WriteLine("RESULT\t" + JsonSerializer.Serialize(new { system, run, workload, ops, secs = Math.Round(secs, 3), ops_per_s = Math.Round(ops / secs, 1) }, s_json));
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

async Task<long> Fanout(double secs, bool oneway)
{
    var clock = Stopwatch.StartNew();
    long received = 0;
    while (clock.Elapsed.TotalSeconds < secs)
    {
        double left = Math.Max(0.1, secs - clock.Elapsed.TotalSeconds);
        long sent = await root.CallRemoteAsync<long>("fanout", observer, fanoutN, oneway, left);
        received += sent;
    }
    return received;
}

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

double Double(string name, double fallback) => double.Parse(Arg(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

internal sealed partial class Program
{
    private static readonly JsonSerializerOptions s_json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}

internal sealed class Observer : Referenceable
{
    public long Count;

    [Remote] public void Notify(long i, string payload) => Interlocked.Increment(ref Count);
}

internal sealed record Small(long I, string Payload);

internal sealed record Item(long Id, string Name, double Score);
