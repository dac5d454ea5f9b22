using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pb.AspNetCore.Tests;

/// <summary>An app on real Kestrel sockets (127.0.0.1, a free port), started with the given services and endpoints.</summary>
internal static class KestrelTestApp
{
    public static async Task<(WebApplication App, Uri Http)> StartAsync(Action<IServiceCollection> services, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        services(builder.Services);
        WebApplication app = builder.Build();
        map(app);
        await app.StartAsync(cancellationToken);
        return (app, new Uri(app.Urls.First()));
    }

    /// <summary>
    /// An app on real Kestrel sockets with two listeners on free 127.0.0.1 ports: HTTP (WebSocket endpoints) and raw PB
    /// over TCP (<c>UsePerspectiveBroker</c>). <paramref name="configure"/> sees the builder after its logging providers
    /// were cleared.
    /// </summary>
    public static async Task<(WebApplication App, Uri Http, int TcpPort)> StartWithTcpAsync(Action<WebApplicationBuilder> configure, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        ListenOptions? pb = null;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Listen(IPAddress.Loopback, 0, l => pb = l.UsePerspectiveBroker());
        });
        configure(builder);
        WebApplication app = builder.Build();
        map(app);
        await app.StartAsync(cancellationToken);
        int tcpPort = pb!.IPEndPoint!.Port;
        return (app, new Uri(app.Urls.First(u => !u.EndsWith($":{tcpPort}", StringComparison.Ordinal))), tcpPort);
    }

    /// <summary>The WebSocket address of <paramref name="path"/> on the app at <paramref name="http"/>.</summary>
    public static Uri Ws(Uri http, string path = "/pb") => new($"ws://{http.Host}:{http.Port}{path}");
}
