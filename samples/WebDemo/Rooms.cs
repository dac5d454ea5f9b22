using Pb;
using Pb.AspNetCore;
using Pb.Cred;

namespace WebDemo;

/// <summary>The demo's caps on what users may put in a room: everything anyone posts is held and sent to everybody.</summary>
public sealed class RoomOptions
{
    /// <summary>The rooms there are. Default "lobby" and "garden"; nobody can make more.</summary>
    public IList<string> Names { get; } = new List<string>();

    /// <summary>Characters in one message, at most. Default 500. Threat: one post too big for every observer's buffer.</summary>
    public int MaxMessageLength { get; set; } = 500;

    /// <summary>Messages a room keeps (the oldest go first). Default 50. Threat: history that grows until no state fits a message.</summary>
    public int HistoryLength { get; set; } = 50;
}

/// <summary>
/// What a user does to a room, whichever kind it is: a <see cref="Room"/> in this process (the default), or a
/// <see cref="ReplicatedRoom"/> shared by several demo nodes through Redis (<c>--Redis=host:port</c>).
/// </summary>
public interface IRoom
{
    string Name { get; }

    /// <summary>The Cacheable the browsers observe.</summary>
    Cacheable Cacheable { get; }

    /// <summary>The room's Viewable: each caller reaches it through their own avatar.</summary>
    RoomDesk Desk { get; }

    Task<long> PostAsync(string author, string text);

    Task EditAsync(string editor, long id, string text);

    Task<long> BumpAsync();
}

/// <summary>The rooms, made once: every connection sees the same objects.</summary>
public sealed class RoomDirectory
{
    private readonly Dictionary<string, IRoom> _rooms;

    public RoomDirectory(Microsoft.Extensions.Options.IOptions<RoomOptions> options, IServiceProvider services)
    {
        RoomOptions o = options.Value;
        IEnumerable<string> names = o.Names.Count > 0 ? o.Names : ["lobby", "garden"];
        // Shared through Redis when the app was started with --Redis (Program.cs registers RedisReplication then).
        var replication = services.GetService(typeof(Pb.Redis.RedisReplication)) as Pb.Redis.RedisReplication;
        _rooms = names.Distinct(StringComparer.Ordinal).ToDictionary(n => n,
            n => replication is null ? (IRoom)new Room(n, o) : new ReplicatedRoom(replication, n, o), StringComparer.Ordinal);
    }

    public IReadOnlyList<string> Names => [.. _rooms.Keys];

    public IRoom Find(string name) =>
        _rooms.TryGetValue(name, out IRoom? room) ? room : throw new PbException($"There is no room '{name}'.") { RemoteTypeName = "builtins.KeyError" };

    /// <summary>Checks a message's text against the caps (the same for both kinds of room).</summary>
    internal static string Checked(string text, RoomOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.Length == 0)
        {
            throw new PbException("A message needs some text.") { RemoteTypeName = "builtins.ValueError" };
        }
        if (text.Length > options.MaxMessageLength)
        {
            throw new PbException($"A message is at most {options.MaxMessageLength} characters (this one has {text.Length}).") { RemoteTypeName = "builtins.ValueError" };
        }
        return text;
    }
}

/// <summary>
/// A room: a Cacheable every browser observes (members present, the last messages, a shared counter). Its changes go
/// to every copy as one-way <c>observe_</c> calls; the <see cref="RoomDesk"/> is how a user changes it.
/// </summary>
public sealed class Room : LiveCacheable, IRoom
{
    public const string Tag = "webdemo.Room";

    private readonly RoomOptions _options;
    private readonly LinkedList<Message> _messages = new();
    private readonly Dictionary<string, int> _present = new(StringComparer.Ordinal);
    private long _lastId;
    private long _counter;

    public Room(string name, RoomOptions options)
    {
        Name = name;
        _options = options;
        Desk = new RoomDesk(this);
    }

    public string Name { get; }

    /// <summary>The room's Viewable: each caller reaches it through their own avatar.</summary>
    public RoomDesk Desk { get; }

    Cacheable IRoom.Cacheable => this;

    Task<long> IRoom.PostAsync(string author, string text) => Task.FromResult(Post(author, text));

    Task IRoom.EditAsync(string editor, long id, string text)
    {
        Edit(editor, id, text);
        return Task.CompletedTask;
    }

    Task<long> IRoom.BumpAsync() => Task.FromResult(Bump());

    /// <summary>A message as it travels: a dict with text keys (a plain object in the browser, a dict in Python).</summary>
    private sealed record Message(long Id, string Author, string Text, bool Edited)
    {
        public Dictionary<string, object?> ToWire() => new() { ["id"] = Id, ["author"] = Author, ["text"] = Text, ["edited"] = Edited };
    }

    protected override object? GetState(object? perspective)
    {
        // A new copy joins: it counts as present from now on, and the others hear of it before it observes (so it gets
        // the list with itself in its state, not as a change).
        if (perspective is Member member)
        {
            _present[member.Name] = _present.GetValueOrDefault(member.Name) + 1;
            Broadcast("members", [Members()]);
        }
        return new Dictionary<string, object?>
        {
            ["name"] = Name,
            ["members"] = Members(),
            ["messages"] = _messages.Select(m => m.ToWire()).ToList(),
            ["counter"] = _counter,
        };
    }

    protected override void OnStoppedObserving(object? perspective, IRemoteCacheObserver observer)
    {
        if (perspective is not Member member)
        {
            return;
        }
        lock (SyncRoot)
        {
            if (_present.TryGetValue(member.Name, out int n))
            {
                if (n <= 1)
                {
                    _present.Remove(member.Name);
                }
                else
                {
                    _present[member.Name] = n - 1;
                }
            }
            Broadcast("members", [Members()]);
        }
    }

    private List<string> Members() => [.. _present.Keys.Order(StringComparer.Ordinal)];

    internal long Post(string author, string text)
    {
        text = Checked(text);
        lock (SyncRoot)
        {
            var message = new Message(++_lastId, author, text, Edited: false);
            _messages.AddLast(message);
            while (_messages.Count > _options.HistoryLength)
            {
                _messages.RemoveFirst();
            }
            Broadcast("posted", [message.ToWire()]);
            return message.Id;
        }
    }

    internal void Edit(string editor, long id, string text)
    {
        text = Checked(text);
        lock (SyncRoot)
        {
            LinkedListNode<Message>? node = _messages.First;
            while (node is not null && node.Value.Id != id)
            {
                node = node.Next;
            }
            if (node is null)
            {
                throw new PbException($"Message {id} is not in this room's history any more.") { RemoteTypeName = "builtins.KeyError" };
            }
            if (node.Value.Author != editor)
            {
                throw new PbException($"Only {node.Value.Author} can edit this message.") { RemoteTypeName = "webdemo.Forbidden" };
            }
            node.Value = node.Value with { Text = text, Edited = true };
            Broadcast("edited", [id, text]);
        }
    }

    internal long Bump()
    {
        lock (SyncRoot)
        {
            long value = ++_counter;
            Broadcast("counter", [value]);
            return value;
        }
    }

    private string Checked(string text) => RoomDirectory.Checked(text, _options);
}

/// <summary>
/// A room's Viewable (Twisted's <c>pb.Viewable</c>): its methods get the caller's avatar first, so "edit" knows who
/// asks, and nobody can post under someone else's name.
/// </summary>
public sealed class RoomDesk(IRoom room) : Viewable
{
    [Remote("post")] public Task<long> Post(object? perspective, string text) => room.PostAsync(Caller(perspective).Name, text);

    [Remote("edit")] public Task Edit(object? perspective, long id, string text) => room.EditAsync(Caller(perspective).Name, id, text);

    [Remote("bump")] public Task<long> Bump(object? perspective)
    {
        Caller(perspective);
        return room.BumpAsync();
    }

    private static Member Caller(object? perspective) =>
        perspective as Member ?? throw new PbException("Log in first.") { RemoteTypeName = "twisted.cred.error.UnauthorizedLogin" };
}

/// <summary>A signed-in user (the avatar every login gets, browser or Twisted alike).</summary>
public sealed class Member(string name, RoomDirectory rooms, IPerspectiveBrokerContext broker) : Avatar
{
    public string Name { get; } = name;

    [Remote("whoami")] public string WhoAmI() => Name;

    [Remote("rooms")] public IReadOnlyList<string> Rooms() => rooms.Names;

    /// <summary>The room to observe and its desk, bound to this avatar.</summary>
    [Remote("join")] public JoinedRoom Join(string room)
    {
        IRoom found = rooms.Find(room);
        return new JoinedRoom(found.Cacheable, found.Desk);
    }

    /// <summary>Posts without observing (what the Twisted client in the README does).</summary>
    [Remote("post")] public Task<long> Post(string room, string text) => rooms.Find(room).PostAsync(Name, text);

    /// <summary>Calls <c>poked(from)</c> on every mind <paramref name="user"/> logged in with; answers how many tabs it reached.</summary>
    [Remote("poke")] public int Poke(string user)
    {
        PbPushResult result = broker.PushToUser(user, "poked", Name);
        return result.Sent > 0 ? result.Sent : throw new PbException($"{user} is not online.") { RemoteTypeName = "builtins.LookupError" };
    }
}

/// <summary>What join answers: the room (a Cacheable: the caller gets a live copy) and its desk (a Viewable for the caller).</summary>
public sealed record JoinedRoom(Cacheable Room, RoomDesk Desk);

public sealed class RoomsRealm(RoomDirectory rooms, IPerspectiveBrokerContext broker) : IRealm
{
    public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
        avatarId.Length == 0
            ? throw new UnauthorizedLoginException()
            : ValueTask.FromResult(new AvatarLogin(new Member(avatarId, rooms, broker)));
}
