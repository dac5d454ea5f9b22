// A fresh project that installs Pb.AspNetCore from a package feed: it serves PB over WebSockets and raw TCP,
// calls itself over both, and exits 0 only when both answers are right. The test command runs it (./build.sh test).
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Pb;

ListenOptions? tcp = null;
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Loopback, 0);
    k.Listen(IPAddress.Loopback, 0, l => tcp = l.UsePerspectiveBroker());
});
builder.Services.AddPerspectiveBroker().UseRoot((_, _) => new HelloRoot());
await using WebApplication app = builder.Build();
app.MapPerspectiveBroker("/pb");
await app.StartAsync();

int tcpPort = tcp!.IPEndPoint!.Port;
var http = new Uri(app.Urls.First(u => !u.EndsWith($":{tcpPort}", StringComparison.Ordinal)));
await using PbClient overWebSocket = await PbClient.ConnectWebSocketAsync(new Uri($"ws://{http.Host}:{http.Port}/pb"));
await using PbClient overTcp = await PbClient.ConnectAsync("127.0.0.1", tcpPort);
string a = await (await overWebSocket.GetRootObjectAsync()).CallRemoteAsync<string>("hello", "websocket");
string b = await (await overTcp.GetRootObjectAsync()).CallRemoteAsync<string>("hello", "tcp");
Console.WriteLine($"{a}; {b}");
await app.StopAsync();
return a == "hello, websocket" && b == "hello, tcp" ? 0 : 1;

internal sealed class HelloRoot : Root
{
    [Remote] public string Hello(string who) => $"hello, {who}";
}
