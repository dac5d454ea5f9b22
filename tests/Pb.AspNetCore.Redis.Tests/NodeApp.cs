using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pb.Redis.Tests;

/// <summary>A scale-out node's app: PB over WebSocket at /pb, its root giving the replicated room.</summary>
public static class NodeApp
{
    /// <summary>The node's app (in the test process, and in ReplicaNode's own process).</summary>
    public static WebApplication Build(string redis, string prefix, Action<RedisReplicationOptions>? configure, string room, string url)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls(url);
        builder.Logging.ClearProviders();
        builder.Services.AddPerspectiveBroker(o => o.Broker.Jelly.Types.AddCacheable<Room>(Room.Tag))
            .UseRoot((sp, _) => new TestRoot(sp.GetRequiredService<Room>()))
            .AddRedis(redis, o =>
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
        return app;
    }

}
