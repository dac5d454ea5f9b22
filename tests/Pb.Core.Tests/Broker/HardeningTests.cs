using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Pb.Banana;
using Pb.Jelly;
using Pb.Tests.Banana;

namespace Pb.Tests.Broker;

/// <summary>
/// Holes found by trying the broker as an attacker (or a careless application) would: each test failed before its fix.
/// Everything runs over real TCP sockets.
/// </summary>
public sealed class HardeningTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_continuation_that_blocks_on_another_call_gets_its_answer()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        // The continuation runs where the first answer is completed and blocks there on a second call: that call's
        // message must leave at once (it was held back until the end of the answer batch, which never came).
        Task<long> chained = root.CallRemoteAsync<long>("add_one", 1L).ContinueWith(
            t => root.CallRemoteAsync<long>("add_one", t.Result).Result,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Assert.Equal(3, await chained.WaitAsync(Cap, Ct));
    }

    [Fact]
    public async Task The_read_loop_does_not_leave_a_call_activity_current()
    {
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Pb.Web",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a =>
            {
                lock (stopped)
                {
                    stopped.Add(a);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        // traced_slow is still running (asynchronously) when traced_add_one is read on the same read loop. The listener
        // sees the calls of tests running beside this one too: these two methods are called by this test only.
        Task<long> slow = root.CallRemoteAsync<long>("traced_slow", 1L, 2L);
        Task<long> fast = root.CallRemoteAsync<long>("traced_add_one", 41L);
        Assert.Equal(42, await fast.WaitAsync(Cap, Ct));
        Assert.Equal(3, await slow.WaitAsync(Cap, Ct));
        await host.DisposeAsync();
        lock (stopped)
        {
            Activity slowCall = Assert.Single(stopped, a => a.DisplayName == "pb.call traced_slow");
            Activity fastCall = Assert.Single(stopped, a => a.DisplayName == "pb.call traced_add_one");
            Assert.NotEqual(slowCall.SpanId, fastCall.ParentSpanId);
            Assert.Null(fastCall.Parent);
        }
    }

    [Fact]
    public async Task A_cacheable_that_pushes_under_its_own_lock_does_not_deadlock_a_connection_sending_it()
    {
        var sync = new object();
        var first = new LockedBoard(sync);
        var second = new LockedBoard(sync);
        var options = new BrokerOptions
        {
            Jelly = new JellyOptions { Types = new JellyTypeRegistry().AddCacheable<LockedBoard>("t.Locked").Add<LockedCopy>("t.Locked") },
        };
        await using var server = new PbServer(new LockedRoot(first, second), options);
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        await using PbClient client = await PbClient.ConnectAsync("127.0.0.1", server.Port, options, cancellationToken: Ct);
        RemoteReference root = await client.GetRootObjectAsync(Ct);
        var copy = await root.CallRemoteAsync<LockedCopy>("first");   // the client observes the first board

        using var pusherHasLock = new ManualResetEventSlim();
        Task pusher = Task.Run(() =>
        {
            lock (sync)
            {
                pusherHasLock.Set();
                // Wait until the connection is serializing the second board (and so wants the lock), then push to the
                // first board's observer on the same connection.
                second.InGetState.Wait(Cap);
                first.PushAll(7);
            }
        }, Ct);
        pusherHasLock.Wait(Cap, Ct);
        Task<LockedCopy> sending = root.CallRemoteAsync<LockedCopy>("second");
        await pusher.WaitAsync(Cap, Ct);
        LockedCopy secondCopy = await sending.WaitAsync(Cap, Ct);
        Assert.Equal(0, secondCopy.Value);
        await copy.Changed.Task.WaitAsync(Cap, Ct);
        Assert.Equal(7, copy.Value);
    }

    [Fact]
    public async Task A_viewable_passed_in_a_server_initiated_call_is_viewed_by_the_avatar_it_was_sent_for()
    {
        await using var host = await BrokerTestHost.StartAsync();
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        RemoteReference avatar = await root.CallRemoteAsync<RemoteReference>("join", "alice");
        // The avatar calls the client's listener with the room; the listener speaks in it.
        object? said = await avatar.CallRemoteAsync("offerRoom", new RoomListener()).WaitAsync(Cap, Ct);
        Assert.Equal("alice: hi", said);
    }

    [Fact]
    public async Task An_answer_larger_than_the_message_limit_is_an_error_for_that_call_not_a_closed_connection()
    {
        var limits = new BananaLimits { MaxMessageSize = 64 * 1024 };
        BrokerOptions serverOptions = BrokerTestHost.Options(), clientOptions = BrokerTestHost.Options();
        serverOptions.BananaLimits = limits;
        clientOptions.BananaLimits = limits;
        await using var host = await BrokerTestHost.StartAsync(serverOptions, clientOptions);
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var error = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("big", 4, 30_000));
        Assert.Contains("MaxMessageSize", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, await root.CallRemoteAsync<long>("add_one", 1L));
    }

    [Fact]
    public async Task A_peer_that_never_finishes_the_handshake_is_closed()
    {
        var options = BrokerTestHost.Options();
        options.HandshakeTimeout = TimeSpan.FromMilliseconds(300);
        await using var server = new PbServer(new TestRoot(), options);
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
        // Slowloris: the start of the dialect choice, then nothing more.
        await socket.SendAsync(BananaNegotiation.ChoosePb.ToArray().AsMemory(0, 2), SocketFlags.None, Ct);
        await ReadUntilClosedAsync(socket);
        await using PbClient other = await PbClient.ConnectAsync("127.0.0.1", server.Port, BrokerTestHost.Options(), cancellationToken: Ct);
        Assert.Equal(2, await (await other.GetRootObjectAsync(Ct)).CallRemoteAsync<long>("add_one", 1L));
    }

    [Fact]
    public async Task Connections_past_the_cap_are_closed_at_once()
    {
        var options = BrokerTestHost.Options();
        options.MaxConnections = 2;
        await using var server = new PbServer(new TestRoot(), options);
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        await using PbClient a = await PbClient.ConnectAsync("127.0.0.1", server.Port, BrokerTestHost.Options(), cancellationToken: Ct);
        PbClient b = await PbClient.ConnectAsync("127.0.0.1", server.Port, BrokerTestHost.Options(), cancellationToken: Ct);
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using PbClient c = await PbClient.ConnectAsync("127.0.0.1", server.Port, BrokerTestHost.Options(), cancellationToken: Ct);
        });
        await b.DisposeAsync();
        for (int i = 0; i < 200 && server.Connections.Count > 1; i++)
        {
            await Task.Delay(25, Ct);
        }
        await using PbClient d = await PbClient.ConnectAsync("127.0.0.1", server.Port, BrokerTestHost.Options(), cancellationToken: Ct);
        Assert.Equal(2, await (await d.GetRootObjectAsync(Ct)).CallRemoteAsync<long>("add_one", 1L));
        Assert.Equal(3, await (await a.GetRootObjectAsync(Ct)).CallRemoteAsync<long>("add_one", 2L));
    }

    [Fact]
    public async Task References_received_past_the_import_limit_fail_that_call()
    {
        var serverOptions = BrokerTestHost.Options();
        serverOptions.MaxImportedReferences = 10;
        await using var host = await BrokerTestHost.StartAsync(serverOptions);
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var many = Enumerable.Range(0, 20).Select(_ => (object?)new ClientCallback()).ToList();
        var error = await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("echo", many));
        Assert.Contains("MaxImportedReferences", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, await root.CallRemoteAsync<long>("add_one", 1L));
    }

    [Fact]
    public async Task Caches_received_past_the_import_limit_fail_that_answer()
    {
        var clientOptions = BrokerTestHost.Options();
        clientOptions.MaxImportedReferences = 3;
        await using var host = await BrokerTestHost.StartAsync(null, clientOptions);
        RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
        var held = new List<StatusCopy>();
        for (int i = 0; i < 3; i++)
        {
            held.Add(await root.CallRemoteAsync<StatusCopy>("newBoard", (long)i));
        }
        var error = await Assert.ThrowsAsync<JellyException>(() => root.CallRemoteAsync("newBoard", 9L));
        Assert.Contains("MaxImportedReferences", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, await root.CallRemoteAsync<long>("add_one", 1L));
        Assert.Equal([0L, 1L, 2L], held.Select(h => h.Value));
    }

    [Fact]
    public async Task A_peer_that_never_reads_while_the_server_pushes_is_cut_off_at_the_outgoing_limit()
    {
        var options = BrokerTestHost.Options();
        var root = new TestRoot();
        await using var server = new PbServer(root, options);
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.ReceiveBufferSize = 4096; // and never read
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
        await socket.SendAsync(BananaNegotiation.ChoosePb.ToArray(), SocketFlags.None, Ct);
        // pushMany(<our object 1>, 100000, 10000): a gigabyte of pushes from a thread of the server's.
        byte[] call = BananaVectorTests.Encode(new List<object?>
        {
            "message"u8.ToArray(), 1L, "root"u8.ToArray(), "pushMany"u8.ToArray(), 0L,
            new List<object?> { "tuple"u8.ToArray(), new List<object?> { "remote"u8.ToArray(), 1L }, 100_000L, 10_000L },
            new List<object?> { "dictionary"u8.ToArray() },
        }, BananaDialect.Pb);
        await socket.SendAsync(call, SocketFlags.None, Ct);
        Exception stopped = await root.PushStopped.Task.WaitAsync(Cap, Ct);
        Assert.Contains("MaxOutgoingBufferSize", stopped.Message, StringComparison.Ordinal);
        for (int i = 0; i < 400 && server.Connections.Count > 0; i++)
        {
            await Task.Delay(25, Ct);
        }
        Assert.Empty(server.Connections);
    }

    [Fact]
    public async Task A_peer_that_sends_calls_but_never_reads_the_answers_is_no_longer_read()
    {
        var options = BrokerTestHost.Options();
        await using var server = new PbServer(new TestRoot(), options);
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.ReceiveBufferSize = 4096; // and never read: the server's answers pile up
        socket.SendTimeout = 3000;
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
        await socket.SendAsync(BananaNegotiation.ChoosePb.ToArray(), SocketFlags.None, Ct);
        // 300 echo calls of a 100 KB string: 30 MB of answers for a peer that reads nothing.
        byte[] payload = new byte[100_000];
        int sent = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            for (long id = 1; id <= 300; id++)
            {
                byte[] call = BananaVectorTests.Encode(new List<object?>
                {
                    "message"u8.ToArray(), id, "root"u8.ToArray(), "echo"u8.ToArray(), 1L,
                    new List<object?> { "tuple"u8.ToArray(), payload }, new List<object?> { "dictionary"u8.ToArray() },
                }, BananaDialect.Pb);
                await socket.SendAsync(call, SocketFlags.None, deadline.Token);
                sent++;
            }
        }
        catch (OperationCanceledException)
        {
            // The server stopped reading our calls: our sends block.
        }
        Assert.InRange(sent, 1, 299);
        PbConnection connection = Assert.Single(server.Connections);
        // Back-pressure, not a buffer that grows with every call: at most the limit and one answer wait.
        Assert.InRange(connection.PendingOutgoingBytes, 0, options.MaxOutgoingBufferSize + 200_000);
        await using PbClient other = await PbClient.ConnectAsync("127.0.0.1", server.Port, BrokerTestHost.Options(), cancellationToken: Ct);
        Assert.Equal(2, await (await other.GetRootObjectAsync(Ct)).CallRemoteAsync<long>("add_one", 1L).WaitAsync(Cap, Ct));
    }

    private static async Task ReadUntilClosedAsync(Socket socket)
    {
        byte[] buffer = new byte[4096];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(Cap);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // reset: closed too
        }
    }

    private sealed class RoomListener : Referenceable
    {
        [Remote] public Task<object?> Take(RemoteReference room) => room.CallRemoteAsync("say", "hi");
    }

    public sealed class LockedRoot(LockedBoard first, LockedBoard second) : Root
    {
        [Remote("first")] public LockedBoard First() => first;

        [Remote("second")] public LockedBoard Second() => second;
    }

    /// <summary>A Cacheable that guards its observers with a lock and pushes to them while holding it.</summary>
    public sealed class LockedBoard(object sync) : Cacheable
    {
        private readonly List<IRemoteCacheObserver> _observers = [];

        public ManualResetEventSlim InGetState { get; } = new();

        public override object? GetStateToCacheAndObserveFor(object? perspective, IRemoteCacheObserver observer)
        {
            InGetState.Set();
            lock (sync)
            {
                _observers.Add(observer);
                return new Dictionary<string, object?> { ["value"] = 0L };
            }
        }

        public void PushAll(long value)
        {
            lock (sync)
            {
                foreach (IRemoteCacheObserver observer in _observers)
                {
                    observer.CallRemoteOneWay("setValue", value);
                }
            }
        }
    }

    public sealed class LockedCopy : RemoteCache
    {
        public long Value { get; set; }

        public TaskCompletionSource Changed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        [Remote] public void SetValue(long value)
        {
            Value = value;
            Changed.TrySetResult();
        }
    }
}
