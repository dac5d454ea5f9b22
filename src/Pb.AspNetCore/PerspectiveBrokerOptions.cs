using Pb.Banana;
using Pb.Cred;

namespace Pb.AspNetCore;

/// <summary>Settings of the PB endpoints of an ASP.NET Core app. Every limit lives in <see cref="Broker"/>.</summary>
public sealed class PerspectiveBrokerOptions
{
    /// <summary>Limits, jelly types, error details of every PB connection. Default: <see cref="BrokerOptions"/> defaults.</summary>
    public BrokerOptions Broker
    {
        get => _broker;
        set => _broker = value ?? throw new ArgumentNullException(nameof(value));
    }

    private BrokerOptions _broker = new();
    private PortalOptions _portal = new();
    private TimeSpan _keepAliveInterval = TimeSpan.FromSeconds(15);
    private TimeSpan _peerTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Login limits when the root is a portal. Default: <see cref="PortalOptions"/> defaults.</summary>
    public PortalOptions Portal
    {
        get => _portal;
        set => _portal = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>
    /// Origins (<c>https://app.example.com</c>) allowed to open a PB WebSocket besides the endpoint's own. Default: none,
    /// so a page on a foreign origin is refused (403). Threat: cross-site WebSocket hijacking, where another site's
    /// page opens a socket that the browser authenticates with this app's cookies. Requests without an Origin header
    /// (non-browser clients) are not affected.
    /// </summary>
    public IList<string> AllowedOrigins { get; } = new List<string>();

    /// <summary>
    /// How often the server pings a WebSocket peer. Default 15 s. PB itself has no keep-alive; this notices dead
    /// peers and keeps proxies from closing idle connections.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive and not <see cref="TimeSpan.Zero"/> (which turns pings off).</exception>
    public TimeSpan KeepAliveInterval
    {
        get => _keepAliveInterval;
        set => _keepAliveInterval = value >= TimeSpan.Zero || value == Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be zero (no pings), positive, or Timeout.InfiniteTimeSpan.");
    }

    /// <summary>
    /// How long a WebSocket peer may leave a ping unanswered before the connection is closed. Default 30 s. Threat: a
    /// silent peer holding a connection (and its avatars) forever. Raw TCP connections get TCP keep-alive instead.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative (other than <see cref="Timeout.InfiniteTimeSpan"/>).</exception>
    public TimeSpan PeerTimeout
    {
        get => _peerTimeout;
        set => _peerTimeout = value >= TimeSpan.Zero || value == Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be zero, positive, or Timeout.InfiniteTimeSpan.");
    }

    /// <summary>
    /// Whether a connection is closed (WebSocket status 1008) when the identity it carries expires: the WebSocket
    /// upgrade's (a JWT's <c>exp</c>, a cookie ticket's expiry) and a <c>loginToken</c> JWT's on any transport. Default
    /// false. Threat: a revoked or stolen short-lived token that keeps working as long as its connection lives. The same
    /// setting as <see cref="PortalOptions.CloseOnTokenExpiry"/> of <see cref="Portal"/>.
    /// </summary>
    public bool CloseOnTokenExpiry
    {
        get => Portal.CloseOnTokenExpiry;
        set => Portal.CloseOnTokenExpiry = value;
    }

    /// <summary>
    /// WebSocket sub-protocols besides <c>pb.banana</c>, in the server's order of preference after it (the builder's
    /// <c>AddMessagePackProtocol()</c> adds <c>pb.msgpack</c>). Default: none. When a client offers several, the server
    /// takes the first of <c>pb.banana</c> then these that the client offered.
    /// </summary>
    public IList<IBananaTranscoder> SubProtocols { get; } = new List<IBananaTranscoder>();

    /// <summary>Makes each connection's root object (set by the builder's UseRoot or UsePortal).</summary>
    internal Func<IServiceProvider, PbConnection, PerspectiveBrokerOptions, Referenceable>? RootFactory { get; set; }

    /// <summary>A copy to override per endpoint: lists and the broker settings are copied, not shared.</summary>
    internal PerspectiveBrokerOptions Clone()
    {
        var copy = new PerspectiveBrokerOptions
        {
            Broker = Broker.Clone(),
            Portal = Portal.Clone(),
            KeepAliveInterval = KeepAliveInterval,
            PeerTimeout = PeerTimeout,
            RootFactory = RootFactory,
        };
        foreach (string origin in AllowedOrigins)
        {
            copy.AllowedOrigins.Add(origin);
        }
        foreach (IBananaTranscoder transcoder in SubProtocols)
        {
            copy.SubProtocols.Add(transcoder);
        }
        return copy;
    }
}
