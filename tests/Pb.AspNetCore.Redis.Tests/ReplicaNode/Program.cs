// One scale-out node in a process of its own: ReplicaNode --redis HOST:PORT --prefix PREFIX [--room NAME]
// Prints "READY port=N pid=P" once it listens and its replica loaded, then serves PB over WebSocket at /pb until killed.
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pb.Redis.Tests;

string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

WebApplication app = NodeApp.Build(Arg("--redis", "127.0.0.1:6379"), Arg("--prefix", "pb"), null, Arg("--room", "lobby"), "http://127.0.0.1:0");
await app.StartAsync();
await app.Services.GetRequiredService<Room>().WhenReady.WaitAsync(TimeSpan.FromSeconds(30));
var http = new Uri(app.Urls.First());
Console.WriteLine($"READY port={http.Port} pid={Environment.ProcessId}");
await app.WaitForShutdownAsync();
