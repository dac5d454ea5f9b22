using System.IO.Pipelines;
using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pb.Cred;

namespace Pb.AspNetCore;

/// <summary>How one PB connection came to the host: its bytes, who it is, and where from.</summary>
internal readonly record struct PbConnectionStart(
    IDuplexPipe Pipe,
    IAsyncDisposable? Owner,
    PerspectiveBrokerOptions Options,
    IServiceProvider ConnectionServices,
    ClaimsPrincipal? User,
    DateTimeOffset? IdentityExpiry,
    string ConnectionId,
    string TransportName,
    EndPoint? RemoteEndPoint,
    CancellationToken Aborted);

/// <summary>
/// Runs every PB connection of the host, raw TCP (Kestrel's <see cref="ConnectionHandler"/>) and WebSocket (the endpoint
/// hands its socket's pipe to <see cref="RunAsync"/>) alike: the same root, portal, realm and objects, so a Twisted
/// client and a browser meet the same avatars. The root and avatars resolve from the connection's services (a TCP
/// connection's own scope, a WebSocket's request scope); each call gets a scope of its own (<see cref="PbCallContext.Services"/>).
/// </summary>
internal sealed class PbConnectionHandler(IServiceScopeFactory scopes, IOptions<PerspectiveBrokerOptions> options, ILogger<PbConnectionHandler> logger, PbConnectionRegistry registry) : ConnectionHandler
{
    private readonly ILogger _logger = logger;

    /// <summary>The logger of every PB connection of the host (the endpoint's refusals too).</summary>
    public ILogger Logger => _logger;

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        if (connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket is { } socket)
        {
            SocketPipe.EnableKeepAlive(socket);
        }
        await using AsyncServiceScope scope = scopes.CreateAsyncScope();
        await RunAsync(new PbConnectionStart(connection.Transport, null, options.Value, scope.ServiceProvider, null, null,
            connection.ConnectionId, "tcp", connection.RemoteEndPoint, connection.ConnectionClosed)).ConfigureAwait(false);
    }

    /// <summary>Runs one connection until it closes.</summary>
    public async Task RunAsync(PbConnectionStart start)
    {
        PerspectiveBrokerOptions settings = start.Options;
        Func<IServiceProvider, PbConnection, PerspectiveBrokerOptions, Referenceable> rootFactory = settings.RootFactory
            ?? throw new InvalidOperationException("No root object: call UseRoot(...) or UsePortal(...) on the builder AddPerspectiveBroker returned.");
        IServiceProvider services = start.ConnectionServices;
        var connection = new PbConnection(start.Pipe, isServer: true, settings.Broker, c => rootFactory(services, c, settings), _logger, start.Owner)
        {
            // The upgrade request's user (JWT, cookie, any scheme): the portal's loginAuthenticated logs it in.
            User = start.User,
            ConnectionId = start.ConnectionId,
            TransportName = start.TransportName,
            RemoteEndPoint = start.RemoteEndPoint,
            CallServices = scopes,
            CloseAt = settings.CloseOnTokenExpiry && start.User?.Identity?.IsAuthenticated == true ? start.IdentityExpiry : null,
            TimeProvider = settings.Portal.TimeProvider,
        };
        if (!registry.TryAdd(connection))
        {
            PerspectiveBrokerLog.ConnectionRefused(_logger, start.ConnectionId);
            if (start.Owner is not null)
            {
                await start.Owner.DisposeAsync().ConfigureAwait(false);
            }
            return; // the app is stopping, or MaxConnections are open
        }
        connection.Start();
        PerspectiveBrokerLog.ConnectionOpened(_logger, start.ConnectionId, start.TransportName, start.RemoteEndPoint);
        using (start.Aborted.Register(static c => _ = ((PbConnection)c!).DisposeAsync().AsTask(), connection))
        {
            await connection.Completion.ConfigureAwait(false);
        }
        PerspectiveBrokerLog.ConnectionClosed(_logger, start.ConnectionId, start.TransportName, connection.CloseReason?.Message ?? "closed normally");
    }
}
