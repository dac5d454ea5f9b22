using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

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
        var (app, http) = await KestrelTestApp.StartAsync(s => s.AddPerspectiveBroker().UseRoot((_, _) => root), a => a.MapPerspectiveBroker("/pb"), Ct);
        await using WebApplication _ = app;

        await using PbClient client = await PbClient.ConnectWebSocketAsync(KestrelTestApp.Ws(http), cancellationToken: Ct);
        Task<object?> pending = (await client.GetRootObjectAsync(Ct)).CallRemoteAsync("wait");
        await root.Started.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct);

        await app.StopAsync(Ct);
        // The app closes the connection itself: the call fails with ConnectionLost (the bound is a safety net, far
        // below the host's 30 s shutdown timeout, after which a forgotten connection would merely be dropped).
        await Assert.ThrowsAsync<ConnectionLostException>(() => pending.WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }
}
