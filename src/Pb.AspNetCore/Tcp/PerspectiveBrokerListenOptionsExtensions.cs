using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Pb.AspNetCore;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Raw PB over TCP on a Kestrel endpoint.</summary>
public static class PerspectiveBrokerListenOptionsExtensions
{
    /// <summary>
    /// Serves raw PB (as Twisted's <c>PBServerFactory</c> does) on this Kestrel endpoint, with the root chosen by
    /// AddPerspectiveBroker: <c>options.ListenAnyIP(8800, l => { l.UseHttps(); l.UsePerspectiveBroker(); })</c>. Put
    /// <c>UseHttps()</c> first on any network that is not yours: PB's password login sends an MD5 challenge response and
    /// <c>loginToken</c> a bearer token over this socket.
    /// </summary>
    public static ListenOptions UsePerspectiveBroker(this ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        if (listenOptions.ApplicationServices.GetService<PerspectiveBrokerMarkerService>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required services. Add them by calling 'services.AddPerspectiveBroker()' before 'UsePerspectiveBroker()'.");
        }
        listenOptions.UseConnectionHandler<PbConnectionHandler>();
        return listenOptions;
    }
}
