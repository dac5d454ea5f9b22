using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
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

    /// <summary>The WebSocket address of <paramref name="path"/> on the app at <paramref name="http"/>.</summary>
    public static Uri Ws(Uri http, string path = "/pb") => new($"ws://{http.Host}:{http.Port}{path}");
}
