using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Pb;
using Pb.AspNetCore;
using Pb.Cred;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses what PB connections of the app see as their root.</summary>
public interface IPerspectiveBrokerBuilder
{
    /// <summary>The app's services.</summary>
    IServiceCollection Services { get; }

    /// <summary>Every connection's root is made by <paramref name="rootFactory"/> from the connection's services.</summary>
    IPerspectiveBrokerBuilder UseRoot(Func<IServiceProvider, PbConnection, Referenceable> rootFactory);

    /// <summary>Every connection gets PB's login root for the portal made by <paramref name="portalFactory"/>.</summary>
    IPerspectiveBrokerBuilder UsePortal(Func<IServiceProvider, Portal> portalFactory);
}

/// <summary>Registration of Perspective Broker endpoints.</summary>
public static class PerspectiveBrokerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the services PB endpoints need; choose the root on the returned builder. It also wraps the app's
    /// <see cref="Logging.ILoggerFactory"/> so that <c>access_token</c> query values (how browsers send a token on a
    /// WebSocket) are written as <c>[Redacted]</c> in every log line, the host's request logs included.
    /// </summary>
    public static IPerspectiveBrokerBuilder AddPerspectiveBroker(this IServiceCollection services, Action<PerspectiveBrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (!services.Any(d => d.ServiceType == typeof(PerspectiveBrokerMarkerService)))
        {
            Pb.AspNetCore.Internal.AccessTokenRedactingLoggerFactory.Decorate(services);
        }
        services.AddOptions<PerspectiveBrokerOptions>();
        if (configure is not null)
        {
            services.Configure(configure);
        }
        services.TryAddSingleton<PerspectiveBrokerMarkerService>();
        services.TryAddSingleton<PbConnectionRegistry>();
        return new Builder(services);
    }

    /// <summary>
    /// Adds the <c>pb.msgpack</c> WebSocket sub-protocol (<see cref="PbMessagePackTranscoder"/>): the same PB messages as
    /// MessagePack values. <c>pb.banana</c> stays the server's first choice when a client offers both (it measured
    /// faster: docs/benchmarks.md).
    /// </summary>
    public static IPerspectiveBrokerBuilder AddMessagePackProtocol(this IPerspectiveBrokerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Configure<PerspectiveBrokerOptions>(o =>
        {
            if (!o.SubProtocols.Contains(PbMessagePackTranscoder.Instance))
            {
                o.SubProtocols.Add(PbMessagePackTranscoder.Instance);
            }
        });
        return builder;
    }

    private sealed class Builder(IServiceCollection services) : IPerspectiveBrokerBuilder
    {
        public IServiceCollection Services { get; } = services;

        public IPerspectiveBrokerBuilder UseRoot(Func<IServiceProvider, PbConnection, Referenceable> rootFactory)
        {
            ArgumentNullException.ThrowIfNull(rootFactory);
            Services.Configure<PerspectiveBrokerOptions>(o => o.RootFactory = (services, connection, _) => rootFactory(services, connection));
            return this;
        }

        public IPerspectiveBrokerBuilder UsePortal(Func<IServiceProvider, Portal> portalFactory)
        {
            ArgumentNullException.ThrowIfNull(portalFactory);
            Services.TryAddSingleton(portalFactory);
            Services.AddSingleton<IConfigureOptions<PerspectiveBrokerOptions>>(sp => new ConfigureOptions<PerspectiveBrokerOptions>(o =>
            {
                Portal portal = sp.GetRequiredService<Portal>();
                // The endpoint's own options (PortalOptions may be overridden per endpoint).
                o.RootFactory = (_, connection, endpoint) => PortalServer.RootFactory(portal, endpoint.Portal)(connection);
            }));
            return this;
        }
    }
}
