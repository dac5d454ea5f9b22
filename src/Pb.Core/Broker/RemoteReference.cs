namespace Pb;

/// <summary>
/// A reference to an object on the other side of a connection (Twisted's <c>pb.RemoteReference</c>). Call its
/// methods with <see cref="CallRemoteAsync{T}(string, object?[])"/>. Each reference received is one reference
/// held: dispose it (or let it be collected) to tell the peer, which forgets the object when every reference to
/// it has been released. It can be sent back over the same connection, where it arrives as the peer's own object.
/// </summary>
public sealed class RemoteReference : IDisposable, IAsyncDisposable, IEquatable<RemoteReference>
{
    private int _released;

    internal RemoteReference(Broker broker, long luid, bool isRoot)
    {
        Broker = broker;
        Luid = luid;
        IsRoot = isRoot;
        if (isRoot)
        {
            // The root reference is never released (Twisted's client never decrefs "root").
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>Releases the reference if nobody disposed it (Twisted releases on garbage collection).</summary>
    ~RemoteReference()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Broker.ReleaseImport();
            if (!Broker.IsClosed)
            {
                ThreadPool.UnsafeQueueUserWorkItem(static s => s.Broker.SendDecref(s.Luid), (Broker, Luid), preferLocal: false);
            }
        }
    }

    internal Broker Broker { get; }

    internal long Luid { get; }

    internal bool IsRoot { get; }

    /// <summary>
    /// The avatar this reference arrived for (Twisted's <c>RemoteReference.perspective</c>): the arguments of calls
    /// made through it are serialized on its behalf. A portal sets it on a login's mind to the new avatar.
    /// </summary>
    internal object? Perspective { get; set; }

    /// <summary>False once the connection closed or this reference was disposed.</summary>
    public bool IsConnected => !Broker.IsClosed && Volatile.Read(ref _released) == 0;

    /// <summary>Cancelled when the connection closes.</summary>
    public CancellationToken Disconnected => Broker.Disconnected;

    /// <summary>
    /// Runs <paramref name="callback"/> once when the connection closes (Twisted's <c>notifyOnDisconnect</c>).
    /// Dispose the result to stop being notified.
    /// </summary>
    public IDisposable NotifyOnDisconnect(Action<RemoteReference> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        return Broker.Disconnected.Register(static s =>
        {
            var (reference, action) = ((RemoteReference, Action<RemoteReference>))s!;
            action(reference);
        }, (this, callback));
    }

    /// <summary>Calls <paramref name="method"/> and converts the answer to <typeparamref name="T"/>.</summary>
    /// <exception cref="RemoteException">The remote method failed.</exception>
    /// <exception cref="ConnectionLostException">The connection closed before the answer came.</exception>
    /// <exception cref="DeadReferenceException">The connection was already closed.</exception>
    public Task<T> CallRemoteAsync<T>(string method, params object?[] args) =>
        CallRemoteAsync<T>(method, args, null, CancellationToken.None);

    /// <summary>Calls <paramref name="method"/> with positional and keyword arguments.</summary>
    public async Task<T> CallRemoteAsync<T>(string method, object?[] args, IReadOnlyDictionary<string, object?>? kwargs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(args);
        ThrowIfReleased();
        // The answer is read straight into T where that pays (records, lists of them); JellyConvert is then a cast.
        object? result = await Broker.CallAsync(this, method, args, kwargs, answerRequired: true, cancellationToken, typeof(T)).ConfigureAwait(false);
        return Jelly.JellyConvert.To<T>(result);
    }

    /// <summary>Calls <paramref name="method"/>; the answer is the unjellied value as it came.</summary>
    public Task<object?> CallRemoteAsync(string method, params object?[] args) =>
        CallRemoteAsync(method, args, null, CancellationToken.None);

    /// <summary>Calls <paramref name="method"/> with positional and keyword arguments; the answer is the unjellied value.</summary>
    public Task<object?> CallRemoteAsync(string method, object?[] args, IReadOnlyDictionary<string, object?>? kwargs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(args);
        ThrowIfReleased();
        return Broker.CallAsync(this, method, args, kwargs, answerRequired: true, cancellationToken);
    }

    /// <summary>Calls <paramref name="method"/> without asking for an answer (answerRequired 0): no result, no error.</summary>
    public void CallRemoteOneWay(string method, params object?[] args) => CallRemoteOneWay(method, args, null);

    /// <summary>Calls <paramref name="method"/> with keyword arguments, without asking for an answer.</summary>
    public void CallRemoteOneWay(string method, object?[] args, IReadOnlyDictionary<string, object?>? kwargs)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(args);
        ThrowIfReleased();
        _ = Broker.CallAsync(this, method, args, kwargs, answerRequired: false, CancellationToken.None);
    }

    /// <summary>
    /// A one-way call for pushes: false, instead of an exception, when the peer is gone or closing, this reference was
    /// released, or the message is too large for it (counted in <c>pb.pushes.dropped</c>).
    /// </summary>
    public bool TryCallRemoteOneWay(string method, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(args);
        try
        {
            if (IsConnected)
            {
                _ = Broker.CallAsync(this, method, args, null, answerRequired: false, CancellationToken.None);
                return true;
            }
        }
        catch (Exception e) when (e is DeadReferenceException or ConnectionLostException or ObjectDisposedException or Banana.BananaException or InvalidOperationException)
        {
            // Gone or closing, or this one message is too large for it.
        }
        Broker.Metrics.DroppedPush();
        return false;
    }

    private void ThrowIfReleased() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _released) != 0, this);

    /// <summary>Releases this reference: the peer is told (<c>decref</c>), once.</summary>
    public void Dispose()
    {
        if (!IsRoot && Interlocked.Exchange(ref _released, 1) == 0)
        {
            GC.SuppressFinalize(this);
            Broker.ReleaseImport();
            Broker.SendDecref(Luid);
        }
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        GC.SuppressFinalize(this);
        return default;
    }

    /// <summary>Two references are equal when they name the same remote object on the same connection.</summary>
    public bool Equals(RemoteReference? other) =>
        other is not null && ReferenceEquals(other.Broker, Broker) && other.Luid == Luid && other.IsRoot == IsRoot;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is RemoteReference r && Equals(r);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Broker, Luid, IsRoot);

    /// <inheritdoc/>
    public override string ToString() => IsRoot ? "<RemoteReference root>" : $"<RemoteReference {Luid}>";
}
