using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pb;
using Pb.Banana;
using Pb.Cred;
using Pb.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps Perspective Broker endpoints.</summary>
public static class PerspectiveBrokerEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Serves PB over WebSockets at <paramref name="pattern"/>: the sub-protocol <c>pb.banana</c> carries the same
    /// banana bytes as TCP (and <c>pb.msgpack</c> the same messages as MessagePack, when added). Returns the endpoint's
    /// convention builder, so <c>RequireAuthorization()</c>, <c>RequireCors()</c> and metadata compose as they do for <c>MapHub</c>.
    /// </summary>
    public static IEndpointConventionBuilder MapPerspectiveBroker(this IEndpointRouteBuilder endpoints, string pattern) =>
        MapPerspectiveBroker(endpoints, pattern, null);

    /// <summary>
    /// Like <see cref="MapPerspectiveBroker(IEndpointRouteBuilder, string)"/>, with settings of this endpoint only:
    /// <paramref name="configure"/> receives a copy of the app's <see cref="PerspectiveBrokerOptions"/> (limits, origins,
    /// keep-alive, sub-protocols, portal options) and changes it for this endpoint, as <c>MapHub</c>'s options do.
    /// </summary>
    public static IEndpointConventionBuilder MapPerspectiveBroker(this IEndpointRouteBuilder endpoints, string pattern, Action<PerspectiveBrokerOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<PerspectiveBrokerMarkerService>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required services. Add them by calling 'services.AddPerspectiveBroker()' in the application's service configuration before 'app.MapPerspectiveBroker(...)'.");
        }
        // Like MapHub, the endpoint carries its own WebSocket middleware: the app need not call UseWebSockets.
        IApplicationBuilder app = endpoints.CreateApplicationBuilder().UseWebSockets();
        if (configure is null)
        {
            app.Run(static context => PbWebSocketEndpoint.HandleAsync(context, context.RequestServices.GetRequiredService<IOptions<PerspectiveBrokerOptions>>().Value));
        }
        else
        {
            IServiceProvider services = endpoints.ServiceProvider;
            var endpointOptions = new Lazy<PerspectiveBrokerOptions>(() =>
            {
                PerspectiveBrokerOptions copy = services.GetRequiredService<IOptions<PerspectiveBrokerOptions>>().Value.Clone();
                configure(copy);
                return copy;
            });
            app.Run(context => PbWebSocketEndpoint.HandleAsync(context, endpointOptions.Value));
        }
        RequestDelegate pipeline = app.Build();
        return endpoints.Map(pattern, pipeline).WithDisplayName($"Perspective Broker {pattern}");
    }
}
