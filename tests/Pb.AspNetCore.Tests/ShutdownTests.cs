using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pb.AspNetCore.Tests;

/// <summary>Stopping the app closes PB connections at once: pending calls fail with a clear reason.</summary>
public sealed class ShutdownTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed class Waiter : Root
    {
        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        [Remote("wait")]
        public async Task<long> WaitAsync(CancellationToken cancellationToken)
        {
            Started.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }

    [Fact]
    public async Task Stopping_the_app_fails_pending_calls_with_connection_lost()
    {
        var root = new Waiter();
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddPerspectiveBroker().UseRoot((_, _) => root);
        await using WebApplication app = builder.Build();
        app.MapPerspectiveBroker("/pb");
        await app.StartAsync(Ct);
        var http = new Uri(app.Urls.First());

        await using PbClient client = await PbClient.ConnectWebSocketAsync(new Uri($"ws://{http.Host}:{http.Port}/pb"), cancellationToken: Ct);
        Task<object?> pending = (await client.GetRootObjectAsync(Ct)).CallRemoteAsync("wait");
        await root.Started.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        await app.StopAsync(Ct);
        // The app closes the connection itself: the call fails with ConnectionLost (the bound is a safety net, far
        // below the host's 30 s shutdown timeout, after which a forgotten connection would merely be dropped).
        await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }
}
