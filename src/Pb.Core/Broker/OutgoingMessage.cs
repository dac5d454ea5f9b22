using Pb.Banana;
using Pb.Jelly;

namespace Pb;

/// <summary>
/// One message the broker is sending, from its first pass to its bytes: the jelliers that number its references, the
/// perspective it is serialized for, and what it exported (undone if it is not sent). The first pass runs the
/// application's code (Copyable states, <see cref="Cacheable.GetStateToCacheAndObserveFor"/>) with no lock held; the
/// second runs under the connection's write lock and only writes bytes. So a Cacheable that pushes to its observers
/// under its own lock never waits on a connection that is sending it, nor the other way round.
/// </summary>
internal sealed class OutgoingMessage : IJellyContext
{
    private readonly Broker _broker;
    private Jellier? _kwargs;

    public OutgoingMessage(Broker broker, JellyOptions options)
    {
        _broker = broker;
        Arguments = new Jellier(options);
    }

    /// <summary>The jellier of the message's main value (the arguments, the answer, the failure).</summary>
    public Jellier Arguments { get; }

    /// <summary>A call's keyword arguments are numbered on their own, as Twisted serializes them apart.</summary>
    public Jellier KeywordArguments => _kwargs ??= new Jellier(Arguments.Options);

    /// <summary>The deepest nesting the connection's limits allow.</summary>
    public int MaxDepth { get; set; }

    /// <summary>Ends both jelliers' messages.</summary>
    public void EndJelliers()
    {
        Arguments.EndMessage();
        _kwargs?.EndMessage();
    }

    /// <summary>The avatar on whose behalf the message is serialized, or null.</summary>
    public object? Perspective { get; set; }

    /// <summary>Exports this message made, undone if it is not sent.</summary>
    public List<(long Id, Broker.ExportKind Kind)> Exports { get; } = [];

    /// <summary>First sends of Cacheables prepared by the first pass and not (yet) committed.</summary>
    public List<CacheForm> PreparedCaches { get; } = [];

    /// <summary>Observers handed to the application that will not observe anything: stopped once the message is done.</summary>
    public List<(Cacheable Cacheable, IRemoteCacheObserver Observer)> Stopped { get; } = [];

    /// <summary>Observers of caches this message created: they start sending once the message is written.</summary>
    public List<Broker.CacheObserver> Created { get; } = [];

    public void Reset()
    {
        Perspective = null;
        Exports.Clear();
        PreparedCaches.Clear();
        Stopped.Clear();
        Created.Clear();
    }

    public bool IsReference(object value) => Broker.IsReference(value);

    public bool TryWriteReference(object value, ref BananaWriter writer) => _broker.TryWriteReference(this, value, ref writer);

    public CacheForm? PrepareCache(object value) => _broker.PrepareCache(this, value);

    public CacheForm CommitCache(CacheForm form) => _broker.CommitCache(this, form);
}
