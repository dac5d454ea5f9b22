using Pb.Cred;

namespace Pb.AspNetCore;

/// <summary>Settings of the PB endpoints of an ASP.NET Core app. Every limit lives in <see cref="Broker"/>.</summary>
public sealed class PerspectiveBrokerOptions
{
    /// <summary>Limits, jelly types, error details of every PB connection. Default: <see cref="BrokerOptions"/> defaults.</summary>
    public BrokerOptions Broker { get; set; } = new();

    /// <summary>Login limits when the root is a portal. Default: <see cref="PortalOptions"/> defaults.</summary>
    public PortalOptions Portal { get; set; } = new();

    /// <summary>Makes each connection's root object (set by the builder's UseRoot or UsePortal).</summary>
    internal Func<IServiceProvider, PbConnection, Referenceable>? RootFactory { get; set; }
}
