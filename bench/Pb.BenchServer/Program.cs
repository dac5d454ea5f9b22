// The benchmark server of the load contract (docs/benchmarks.md): echo(x) and fanout(observer, n, oneway, max_seconds).
// Usage: Pb.BenchServer --transport tcp|ws --port N --lifetime SECONDS
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pb;

string transport = Arg("--transport", "tcp");
int port = int.Parse(Arg("--port", "0"), CultureInfo.InvariantCulture);
double lifetime = double.Parse(Arg("--lifetime", "60"), CultureInfo.InvariantCulture);
if (transport == "ws")
{
    // PB over WebSockets in ASP.NET Core: ws://127.0.0.1:<port>/pb
    WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseKestrel().UseUrls($"http://127.0.0.1:{port}");
    builder.Services.AddPerspectiveBroker().UseRoot((_, _) => new BenchRoot()).AddMessagePackProtocol();
    await using WebApplication app = builder.Build();
    app.MapPerspectiveBroker("/pb");
    await app.StartAsync();
    Console.WriteLine($"READY port={new Uri(app.Urls.First()).Port} pid={Environment.ProcessId}");
    await Task.Delay(TimeSpan.FromSeconds(lifetime));
    return 0;
}
if (transport != "tcp")
{
    Console.Error.WriteLine("--transport is tcp or ws.");
    return 2;
}
await using var server = new PbServer(new BenchRoot());
server.Start(new IPEndPoint(IPAddress.Loopback, port));
Console.WriteLine($"READY port={server.Port} pid={Environment.ProcessId}");
await Task.Delay(TimeSpan.FromSeconds(lifetime));
return 0;

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

internal sealed class BenchRoot : Root
{
    private const string Payload = "abcdefghijklmnop";

    [Remote] public object? Echo(object? x) => x;

    /// <summary>W1t/W2t: a record in, the record out (read from the dict, written as a dict).</summary>
    [Remote] public Small EchoSmall(Small s) => s;

    /// <summary>W3t: 1000 records in, the same out.</summary>
    [Remote] public Item[] EchoItems(Item[] items) => items;

    /// <summary>Calls observer.notify(i, payload) n times (one-way or answered), stops at max_seconds, answers the count sent.</summary>
    [Remote] public async Task<long> FanoutAsync(RemoteReference observer, long n, bool oneway, double max_seconds)
    {
        var deadline = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(max_seconds);
        long sent = 0;
        if (oneway)
        {
            for (; sent < n && (sent % 1024 != 0 || deadline.Elapsed < limit); sent++)
            {
                observer.CallRemoteOneWay("notify", sent, Payload);
            }
            return sent;
        }
        // With answers: keep a window of calls in flight, as a client with depth would.
        const int Window = 256;
        var inFlight = new Queue<Task<object?>>(Window);
        for (; sent < n && deadline.Elapsed < limit; sent++)
        {
            if (inFlight.Count == Window)
            {
                await inFlight.Dequeue();
            }
            inFlight.Enqueue(observer.CallRemoteAsync("notify", sent, Payload));
        }
        while (inFlight.Count > 0)
        {
            await inFlight.Dequeue();
        }
        return sent;
    }
}

internal sealed record Small(long I, string Payload);

internal sealed record Item(long Id, string Name, double Score);
