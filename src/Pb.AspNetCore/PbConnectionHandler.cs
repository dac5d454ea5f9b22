using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Pb.AspNetCore;

/// <summary>
/// Raw PB over TCP inside the ASP.NET Core host (Kestrel's <see cref="ConnectionHandler"/>): the same root, portal,
/// realm and objects as the WebSocket endpoint, so a Twisted client and a browser meet the same avatars. Each
/// connection gets its own service scope, which lives as long as the connection.
/// </summary>
internal sealed class PbConnectionHandler(IServiceScopeFactory scopes, IOptions<PerspectiveBrokerOptions> options, ILoggerFactory loggers, PbConnectionRegistry registry) : ConnectionHandler
{
    private readonly ILogger _logger = loggers.CreateLogger("Pb.AspNetCore.PerspectiveBroker");

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        PerspectiveBrokerOptions settings = options.Value;
        if (connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket is { } socket)
        {
            SocketPipe.EnableKeepAlive(socket);
        }
        Func<IServiceProvider, PbConnection, PerspectiveBrokerOptions, Referenceable> rootFactory = settings.RootFactory
            ?? throw new InvalidOperationException("No root object: call UseRoot(...) or UsePortal(...) on the builder AddPerspectiveBroker returned.");
        await using AsyncServiceScope scope = scopes.CreateAsyncScope();
        IServiceProvider services = scope.ServiceProvider;
        var pb = new PbConnection(connection.Transport, isServer: true, settings.Broker, c => rootFactory(services, c, settings), _logger, owner: null);
        if (!registry.TryAdd(pb))
        {
            return; // the app is stopping
        }
        pb.Start();
        using (connection.ConnectionClosed.Register(static c => _ = ((PbConnection)c!).DisposeAsync().AsTask(), pb))
        {
            await pb.Completion.ConfigureAwait(false);
        }
    }
}
