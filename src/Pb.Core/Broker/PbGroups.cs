namespace Pb;

/// <summary>What a push to many peers did.</summary>
/// <param name="Sent">Members the call was written for.</param>
/// <param name="Dropped">Members skipped because their peer was gone, closing or no longer observing (they leave the group).</param>
public readonly record struct PbPushResult(int Sent, int Dropped);

/// <summary>
/// Named sets of peers' objects to push to with one call (SignalR's groups): a client's mind (a
/// <see cref="RemoteReference"/>) or a <see cref="RemoteCache"/>'s observer. A member leaves its groups by itself when its
/// connection closes. Pushes are one-way calls written into each member's connection buffer: they never throw at the
/// pusher and never wait for a slow peer (a peer that does not read is closed when its buffer passes
/// <see cref="BrokerOptions.MaxOutgoingBufferSize"/>). Members that are gone are dropped and counted
/// (<c>pb.pushes.dropped</c>). Thread-safe.
/// </summary>
public sealed class PbGroups
{
    private readonly Dictionary<string, Member[]> _groups = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    /// <summary>The names of the groups that have members now.</summary>
    public IReadOnlyCollection<string> Names
    {
        get
        {
            lock (_gate)
            {
                return [.. _groups.Keys];
            }
        }
    }

    /// <summary>How many members <paramref name="group"/> has now.</summary>
    public int Count(string group)
    {
        ArgumentNullException.ThrowIfNull(group);
        lock (_gate)
        {
            return _groups.TryGetValue(group, out Member[]? members) ? members.Length : 0;
        }
    }

    /// <summary>Adds a client object (a login's mind, a callback) to <paramref name="group"/>; false if it is there already or gone.</summary>
    public bool Add(string group, RemoteReference member) => AddCore(group, member, member.Disconnected);

    /// <summary>Adds a cache observer to <paramref name="group"/>; false if it is there already or gone.</summary>
    public bool Add(string group, IRemoteCacheObserver member) =>
        AddCore(group, member, member is Broker.CacheObserver observer ? observer.Disconnected : CancellationToken.None);

    /// <summary>Removes <paramref name="member"/> from <paramref name="group"/>; false if it was not there.</summary>
    public bool Remove(string group, RemoteReference member) => RemoveCore(group, member);

    /// <summary>Removes <paramref name="member"/> from <paramref name="group"/>; false if it was not there.</summary>
    public bool Remove(string group, IRemoteCacheObserver member) => RemoveCore(group, member);

    /// <summary>
    /// Calls <paramref name="method"/> one-way on every member of <paramref name="group"/>: a mind's remote method, or
    /// the <c>[Remote]</c> (observe) method of a member's RemoteCache.
    /// </summary>
    public PbPushResult Push(string group, string method, params object?[] args)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(args);
        Member[]? members;
        lock (_gate)
        {
            _groups.TryGetValue(group, out members);
        }
        int sent = 0, dropped = 0;
        foreach (Member member in members ?? [])
        {
            if (TryPush(member.Target, method, args))
            {
                sent++;
            }
            else
            {
                dropped++;
                RemoveCore(group, member.Target);
            }
        }
        return new PbPushResult(sent, dropped);
    }

    /// <summary>A one-way call that reports a gone or closing peer (counted) instead of throwing.</summary>
    private static bool TryPush(object target, string method, object?[] args)
    {
        if (target is IRemoteCacheObserver observer)
        {
            return LiveCacheable.TryPush(observer, method, args);
        }
        return ((RemoteReference)target).TryCallRemoteOneWay(method, args);
    }

    private bool AddCore(string group, object target, CancellationToken disconnected)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(target);
        if (disconnected.IsCancellationRequested)
        {
            return false;
        }
        lock (_gate)
        {
            Member[] members = _groups.TryGetValue(group, out Member[]? existing) ? existing : [];
            if (Array.Exists(members, m => m.Target.Equals(target)))
            {
                return false;
            }
            _groups[group] = [.. members, new Member(target)];
        }
        // Outside the lock: a token cancelled meanwhile runs the removal at once.
        CancellationTokenRegistration registration = disconnected.Register(static s =>
        {
            var (groups, g, t) = ((PbGroups, string, object))s!;
            groups.RemoveCore(g, t);
        }, (this, group, target));
        lock (_gate)
        {
            if (_groups.TryGetValue(group, out Member[]? members) && Array.Find(members, m => ReferenceEquals(m.Target, target)) is { } member)
            {
                member.Registration = registration;
                return true;
            }
        }
        registration.Dispose();
        return true;
    }

    private bool RemoveCore(string group, object target)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(target);
        Member? removed = null;
        lock (_gate)
        {
            if (!_groups.TryGetValue(group, out Member[]? members))
            {
                return false;
            }
            int index = Array.FindIndex(members, m => m.Target.Equals(target));
            if (index < 0)
            {
                return false;
            }
            removed = members[index];
            if (members.Length == 1)
            {
                _groups.Remove(group);
            }
            else
            {
                _groups[group] = [.. members.AsSpan(0, index), .. members.AsSpan(index + 1)];
            }
        }
        removed.Registration.Dispose();
        return true;
    }

    private sealed class Member(object target)
    {
        public object Target { get; } = target;

        public CancellationTokenRegistration Registration { get; set; }
    }
}
