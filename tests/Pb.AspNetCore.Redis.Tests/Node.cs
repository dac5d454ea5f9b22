using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pb.Jelly;

namespace Pb.Redis.Tests;

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
        WebApplication app = NodeApp.Build(redis.Configuration, prefix, configure, room, "http://127.0.0.1:0");
        await app.StartAsync();
        var http = new Uri(app.Urls.First());
        var node = new Node(app, new Uri($"ws://{http.Host}:{http.Port}/pb"));
        await node.Room.WhenReady.WaitAsync(TimeSpan.FromSeconds(20));
        return node;
    }

    /// <summary>A PB client of this node, over a real WebSocket: its root (no copy of the room yet).</summary>
    public async Task<RemoteReference> ConnectAsync()
    {
        PbClient client = await PbClient.ConnectWebSocketAsync(Ws, ClientOptions());
        _clients.Add(client);
        return await client.GetRootObjectAsync();
    }

    private static BrokerOptions ClientOptions() => new() { Jelly = new JellyOptions { Types = new JellyTypeRegistry().Add<RoomCopy>(Room.Tag) } };

    /// <summary>A PB client of this node, over a real WebSocket, and its copy of the room.</summary>
    public async Task<(RemoteReference Root, RoomCopy Copy)> ObserveAsync()
    {
        (PbClient client, RemoteReference root, RoomCopy copy) = await ObserveAsync(Ws);
        _clients.Add(client);
        return (root, copy);
    }

    /// <summary>A PB client of the node at <paramref name="ws"/>, and its copy of the room.</summary>
    public static async Task<(PbClient Client, RemoteReference Root, RoomCopy Copy)> ObserveAsync(Uri ws)
    {
        PbClient client = await PbClient.ConnectWebSocketAsync(ws, ClientOptions());
        RemoteReference root = await client.GetRootObjectAsync();
        return (client, root, await root.CallRemoteAsync<RoomCopy>("room"));
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
