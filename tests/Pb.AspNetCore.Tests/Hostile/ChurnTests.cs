using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pb.Cred;
using Pb.Jelly;

namespace Pb.AspNetCore.Tests.Hostile;

/// <summary>
/// Churn: 10,000 cycles of connect, log in (challenge-response), call, observe a live Cacheable, push to it and
/// disconnect, over real TCP and real WebSockets. Afterwards nothing is left: no registered connection, no observer,
/// every session logged out exactly once, and the managed heap where it was after a warm-up (printed with the working
/// set). Runs alone so the memory figures are its own.
/// </summary>
[Collection(nameof(HostilePeersRunAlone))]
public sealed class ChurnTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const int Cycles = 10_000;
    private const int WarmUp = 500;
    private const int Parallel = 4;

    /// <summary>How much more managed memory may be live after the cycles than after the warm-up (a leak of one
    /// small object per connection would pass; of a connection's state, about 10 KB each, would not).</summary>
    private const long HeapGrowthBound = 24L * 1024 * 1024;

    private WebApplication _app = null!;
    private Uri _webSocket = null!;
    private int _tcpPort;
    private readonly Realm _realm = new();

    private static JellyOptions Jelly(bool server) => new()
    {
        Types = server ? new JellyTypeRegistry().AddCacheable<Board>("churn.Board") : new JellyTypeRegistry().Add<BoardCopy>("churn.Board"),
    };

    private static readonly BrokerOptions ClientOptions = new() { Jelly = Jelly(server: false) };

    /// <summary>One live Cacheable every session observes: observers kept under a lock, as a careful app does.</summary>
    public sealed class Board : Cacheable
    {
        private readonly object _sync = new();
        private readonly HashSet<IRemoteCacheObserver> _observers = [];
        private long _value;

        public int ObserverCount
        {
            get
            {
                lock (_sync)
                {
                    return _observers.Count;
                }
            }
        }

        public override object? GetStateToCacheAndObserveFor(object? perspective, IRemoteCacheObserver observer)
        {
            lock (_sync)
            {
                _observers.Add(observer);
                return new Dictionary<string, object?> { ["value"] = _value };
            }
        }

        public override void StoppedObserving(object? perspective, IRemoteCacheObserver observer)
        {
            lock (_sync)
            {
                _observers.Remove(observer);
            }
        }

        /// <summary>Sets the value and pushes it to the copy <paramref name="perspective"/> observes (answering once it has it).</summary>
        public Task<object?> SetAsync(long value, object perspective)
        {
            IRemoteCacheObserver observer;
            lock (_sync)
            {
                _value = value;
                observer = _observers.FirstOrDefault(o => ReferenceEquals(o.Perspective, perspective))
                    ?? throw new PbException("this session does not observe the board");
            }
            return observer.CallRemoteAsync("setValue", value);
        }
    }

    public sealed class BoardCopy : RemoteCache
    {
        public long Value { get; set; }

        [Remote] public long SetValue(long value) => Value = value;
    }

    private sealed class Realm : IRealm
    {
        public readonly Board Board = new();
        public readonly ConcurrentDictionary<long, int> Logouts = new();
        private long _sessions;
        public int Logins;

        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Logins);
            long session = Interlocked.Increment(ref _sessions);
            return ValueTask.FromResult(new AvatarLogin(new User(this, session), () => Logouts.AddOrUpdate(session, 1, (_, n) => n + 1)));
        }
    }

    private sealed class User(Realm realm, long session) : Avatar
    {
        [Remote("session")] public long Session() => session;

        [Remote("board")] public Board GetBoard() => realm.Board;

        /// <summary>Pushes <paramref name="value"/> into the caller's copy of the board.</summary>
        [Remote("push")]
        public async Task<long> Push(long value)
        {
            await realm.Board.SetAsync(value, this);
            return value;
        }
    }

    public async ValueTask InitializeAsync()
    {
        Uri http;
        (_app, http, _tcpPort) = await KestrelTestApp.StartWithTcpAsync(builder =>
        {
            builder.Services.AddPerspectiveBroker(o => o.Broker.Jelly = Jelly(server: true))
                .UsePortal(_ => new Portal(_realm, new InMemoryPasswordChecker([new("churn", "pw")])));
        }, app =>
        {
            app.MapPerspectiveBroker("/pb");
        }, Ct);
        _webSocket = KestrelTestApp.Ws(http);
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    private int OpenConnections => _app.Services.GetRequiredService<PbConnectionRegistry>().Count;

    [Theory]
    [InlineData(Transport.Tcp)]
    [InlineData(Transport.WebSocket)]
    public async Task Ten_thousand_connect_login_observe_disconnect_cycles_leave_nothing_behind(Transport transport)
    {
        await RunCyclesAsync(transport, WarmUp, first: 0);
        await SettledAsync(WarmUp);
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long workingSetBefore = Process.GetCurrentProcess().WorkingSet64;

        var clock = Stopwatch.StartNew();
        await RunCyclesAsync(transport, Cycles, first: WarmUp);
        clock.Stop();
        await SettledAsync(WarmUp + Cycles);

        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        long workingSetAfter = Process.GetCurrentProcess().WorkingSet64;
        output.WriteLine($"{Cycles} cycles over {transport} ({Parallel} at a time) in {clock.Elapsed.TotalSeconds:0.0} s " +
            $"({Cycles / clock.Elapsed.TotalSeconds:0} cycles/s); managed heap {heapBefore / 1048576.0:0.0} MiB after the warm-up, " +
            $"{heapAfter / 1048576.0:0.0} MiB after; working set {workingSetBefore / 1048576.0:0} MiB, {workingSetAfter / 1048576.0:0} MiB");
        Assert.True(heapAfter - heapBefore < HeapGrowthBound, $"the managed heap grew by {(heapAfter - heapBefore) / 1048576} MiB");
    }

    /// <summary>Every connection has left the registry, every observer is gone, every session logged out once.</summary>
    private async Task SettledAsync(int sessions)
    {
        for (int i = 0; i < 600 && (OpenConnections != 0 || _realm.Board.ObserverCount != 0 || _realm.Logouts.Count != sessions); i++)
        {
            await Task.Delay(50, Ct);
        }
        Assert.Equal(0, OpenConnections);
        Assert.Equal(0, _realm.Board.ObserverCount);
        Assert.Equal(sessions, Volatile.Read(ref _realm.Logins));
        Assert.Equal(sessions, _realm.Logouts.Count);
        Assert.All(_realm.Logouts, pair => Assert.Equal(1, pair.Value));
    }

    private async Task RunCyclesAsync(Transport transport, int count, int first)
    {
        int next = first - 1;
        int last = first + count;
        await Task.WhenAll(Enumerable.Range(0, Parallel).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < last; i = Interlocked.Increment(ref next))
            {
                await CycleAsync(transport, i);
            }
        }, Ct)));
    }

    private async Task CycleAsync(Transport transport, int i)
    {
        await using PbClient client = transport == Transport.Tcp
            ? await PbClient.ConnectAsync("127.0.0.1", _tcpPort, ClientOptions, cancellationToken: Ct)
            : await PbClient.ConnectWebSocketAsync(_webSocket, ClientOptions, cancellationToken: Ct);
        using RemoteReference avatar = await client.LoginAsync(new UsernamePassword("churn", "pw"), cancellationToken: Ct);
        Assert.True(await avatar.CallRemoteAsync<long>("session") > 0);
        BoardCopy board = await avatar.CallRemoteAsync<BoardCopy>("board");
        Assert.Equal(i, await avatar.CallRemoteAsync<long>("push", (long)i));
        Assert.Equal(i, board.Value);
        // Half the cycles release the copy before leaving (decache, then the owner's uncache); the rest just go.
        if (i % 2 == 0)
        {
            board.Dispose();
        }
    }
}
