using Pb.Banana;
using Pb.Jelly;

namespace Pb;

/// <summary>What one PB connection allows and how it behaves. Every limit states its default and its threat.</summary>
public sealed class BrokerOptions
{
    private int _maxBrokerReferences = 1024;
    private int _maxPendingCalls = 10_000;
    private int _maxConcurrentInvocations = 256;
    private long _maxOutgoingBufferSize = 1024 * 1024;
    private int _maxImportedReferences = 10_000;
    private int _maxConnections = 10_000;
    private TimeSpan _handshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Copyable types and the unjelly allow-list. Default: none registered.</summary>
    public JellyOptions Jelly
    {
        get => _jelly;
        set => _jelly = value ?? throw new ArgumentNullException(nameof(value));
    }

    private JellyOptions _jelly = JellyOptions.Default;

    /// <summary>Banana limits for reading and writing. Default: <see cref="BananaLimits.Default"/>.</summary>
    public BananaLimits BananaLimits
    {
        get => _bananaLimits;
        set => _bananaLimits = value ?? throw new ArgumentNullException(nameof(value));
    }

    private BananaLimits _bananaLimits = BananaLimits.Default;

    /// <summary>
    /// Objects this side exports to the peer at once (Referenceables it holds references to). Default 1024, Twisted's
    /// <c>MAX_BROKER_REFS</c>. Threat: a peer that makes us keep every object we ever sent. A call whose result would
    /// pass the limit gets an error; after three such errors the connection closes, as in Twisted.
    /// </summary>
    public int MaxBrokerReferences
    {
        get => _maxBrokerReferences;
        set => _maxBrokerReferences = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1.");
    }

    /// <summary>
    /// Our own calls waiting for an answer on this connection. Default 10000. Threat: unbounded memory when the
    /// peer stops answering. Past it, a new call fails at once with <see cref="InvalidOperationException"/>.
    /// </summary>
    public int MaxPendingCalls
    {
        get => _maxPendingCalls;
        set => _maxPendingCalls = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1.");
    }

    /// <summary>
    /// The peer's calls running here at once (methods that have not finished). Default 256 (well above what a
    /// pipelining client keeps in flight; SignalR's default is 1, Twisted has none). Threat: a peer that starts more
    /// work than the server can hold. Past it, a call gets an error answer instead of running; the connection stays.
    /// (Refused rather than queued by pausing the read loop: a paused loop would not read the answers that running
    /// calls may be waiting for from the same peer, and would deadlock them.) Each call has its own DI scope, so
    /// concurrent calls never share a scoped service.
    /// </summary>
    public int MaxConcurrentInvocations
    {
        get => _maxConcurrentInvocations;
        set => _maxConcurrentInvocations = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1.");
    }

    /// <summary>
    /// Bytes waiting to be sent to the peer. Default 1 MiB (SignalR waits at 64 KB). One message of any size up to
    /// <see cref="BananaLimits.MaxMessageSize"/> may always wait; past half this limit the connection stops reading
    /// the peer's calls until the peer has read our answers (back-pressure); past the limit, which only pushes from
    /// other threads reach (callbacks, cache observers), the connection is closed. Threat: a peer that stops reading
    /// while we keep writing, holding our memory.
    /// </summary>
    public long MaxOutgoingBufferSize
    {
        get => _maxOutgoingBufferSize;
        set => _maxOutgoingBufferSize = value >= 1024 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1024.");
    }

    /// <summary>
    /// References to the peer's objects that this side holds at once: <see cref="RemoteReference"/>s not yet released
    /// and the peer's caches we keep (<see cref="RemoteCache"/>). Default 10000. Twisted has no such limit. Threat: a
    /// peer that sends a message full of new references or caches, each of which we keep (and later must release). A
    /// message that would pass it fails: a call gets an error answer, an answer fails its call.
    /// </summary>
    public int MaxImportedReferences
    {
        get => _maxImportedReferences;
        set => _maxImportedReferences = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1.");
    }

    /// <summary>
    /// Connections a server (<see cref="PbServer"/>, or one ASP.NET Core app's PB endpoints together) keeps open at once.
    /// Default 10000. Threat: a peer that opens connections until the process runs out of memory or file handles. Past
    /// it, a new connection is closed at once.
    /// </summary>
    public int MaxConnections
    {
        get => _maxConnections;
        set => _maxConnections = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be at least 1.");
    }

    /// <summary>
    /// How long a new connection may take to finish the banana dialect negotiation. Default 10 s;
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns it off. Threat: peers that connect and send nothing (or one byte a
    /// second), each holding a connection forever. What a peer may do after the handshake is bounded by the login timeout
    /// of a portal (<c>PortalOptions.LoginTimeout</c>).
    /// </summary>
    public TimeSpan HandshakeTimeout
    {
        get => _handshakeTimeout;
        set => _handshakeTimeout = value == Timeout.InfiniteTimeSpan || (value > TimeSpan.Zero && value.TotalMilliseconds <= uint.MaxValue - 1)
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "Must be positive (and under 49 days) or Timeout.InfiniteTimeSpan.");
    }

    /// <summary>
    /// Whether an unexpected exception's type and message reach the peer. Default false: the peer gets
    /// <c>builtins.Exception</c> with a generic message (the method name only), like SignalR's detailed errors
    /// switch. Twisted always sends the type and text (a deliberate difference, see docs/broker.md).
    /// <see cref="PbException"/> messages are always sent.
    /// </summary>
    public bool DetailedErrors { get; set; }

    /// <summary>Whether detailed errors include the stack trace (Twisted's <c>unsafeTracebacks</c>). Default false.</summary>
    public bool IncludeTracebacks { get; set; }

    /// <summary>The dialect a client asks for when the server offers it. Default <see cref="BananaDialect.Pb"/>.</summary>
    public BananaDialect PreferredDialect
    {
        get => _preferredDialect;
        set => _preferredDialect = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Not a BananaDialect.");
    }

    private BananaDialect _preferredDialect = BananaDialect.Pb;

    /// <summary>A copy whose settings can change without touching these (the jelly and banana settings are immutable and shared).</summary>
    public BrokerOptions Clone()
    {
        var copy = (BrokerOptions)MemberwiseClone();
        copy.CallFilters = [.. CallFilters];
        copy._frozenFilters = null;
        return copy;
    }

    /// <summary>
    /// Filters that run around every call a peer makes, the first outermost (SignalR's hub filters). Default: none.
    /// Pb.AspNetCore adds those registered with <c>AddFilter&lt;T&gt;()</c> and its authorization filter.
    /// </summary>
    public IList<IPbCallFilter> CallFilters { get; private set; } = new List<IPbCallFilter>();

    private IPbCallFilter[]? _frozenFilters;

    /// <summary>
    /// Where the meter <c>Pb.Web</c> comes from. Default null: one process-wide meter. Pb.AspNetCore sets the app's
    /// <see cref="System.Diagnostics.Metrics.IMeterFactory"/>, so the instruments belong to the app's DI container (and
    /// tests can tell apps apart).
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>The filters as connections use them: read once, when the first connection starts.</summary>
    internal IPbCallFilter[] FrozenCallFilters => _frozenFilters ??= [.. CallFilters];
}
