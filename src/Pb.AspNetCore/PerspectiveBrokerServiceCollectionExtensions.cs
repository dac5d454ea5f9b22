using System.Diagnostics.Metrics;
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
        services.TryAddSingleton<PbGroups>();
        services.TryAddSingleton<PbConnectionRegistry>();
        services.TryAddSingleton<IPerspectiveBrokerContext>(static sp => sp.GetRequiredService<PbConnectionRegistry>());
        services.TryAddSingleton<PbConnectionHandler>();
        services.TryAddSingleton<PbAuthorizationFilter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<PerspectiveBrokerOptions>, BrokerOptionsSetup>());
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

    /// <summary>
    /// Adds a filter that runs around every call peers make (SignalR's <c>AddFilter</c>): <typeparamref name="TFilter"/> is
    /// made once from the app's services (a singleton; reach scoped services through <see cref="PbCallContext.Services"/>).
    /// Filters run in the order added, after the authorization of <c>[Authorize]</c>.
    /// </summary>
    public static IPerspectiveBrokerBuilder AddFilter<TFilter>(this IPerspectiveBrokerBuilder builder)
        where TFilter : class, IPbCallFilter
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<TFilter>();
        builder.Services.AddOptions<PerspectiveBrokerOptions>().Configure<TFilter>(static (o, filter) => o.Broker.CallFilters.Add(filter));
        return builder;
    }

    /// <summary>Adds <paramref name="filter"/> around every call peers make (see <see cref="AddFilter{TFilter}(IPerspectiveBrokerBuilder)"/>).</summary>
    public static IPerspectiveBrokerBuilder AddFilter(this IPerspectiveBrokerBuilder builder, IPbCallFilter filter)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(filter);
        builder.Services.Configure<PerspectiveBrokerOptions>(o => o.Broker.CallFilters.Add(filter));
        return builder;
    }

    /// <summary>Puts the <c>[Authorize]</c> filter first, outside the app's own filters, and the meter on the app's <see cref="IMeterFactory"/>.</summary>
    private sealed class BrokerOptionsSetup(PbAuthorizationFilter filter, IServiceProvider services) : IPostConfigureOptions<PerspectiveBrokerOptions>
    {
        public void PostConfigure(string? name, PerspectiveBrokerOptions options)
        {
            options.Broker.MeterFactory ??= services.GetService<IMeterFactory>();
            if (!options.Broker.CallFilters.Contains(filter))
            {
                options.Broker.CallFilters.Insert(0, filter);
            }
        }
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
