using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Pb.Banana;
using Pb.Jelly;
using Pb.Tests.Banana;

namespace Pb.Tests.Broker;

/// <summary>
/// Every raw probe of server-reactions.json (bytes sent to a real Twisted 22.4 server and what it did) sent to a
/// C# server over a raw socket: the same answers and errors, and the connection closed exactly when Twisted closed it.
/// </summary>
public sealed class ServerReactionTests
{
    private const string File = "server-reactions.json";

    /// <summary>A stand-in for Twisted's portal root until cred exists: login(username) answers (challenge, challenger).</summary>
    public sealed class ProbeRoot : Root
    {
        [Remote] public PbTuple Login(byte[] username) => new(new byte[16], new Challenger());

        public sealed class Challenger : Referenceable
        {
        }
    }

    public static TheoryData<string> Probes => TestVectors.Names(File, "probes");

    [Theory]
    [MemberData(nameof(Probes))]
    public async Task Probe_gets_twisteds_reaction(string name)
    {
        JsonElement probe = TestVectors.Find(File, "probes", name);
        await using var server = new PbServer(new ProbeRoot());
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
        var peer = new RawPeer(socket);

        object? offer = Assert.Single(await peer.ReadAsync(1));
        TreeAssert.Equal(TestVectors.ToTree(JsonDocument.Parse("[\"pb\", \"none\"]").RootElement), offer);

        string chosen = probe.GetProperty("dialect_chosen").GetString()!;
        await peer.SendAsync(BananaVectorTests.Encode(System.Text.Encoding.ASCII.GetBytes(chosen), BananaDialect.None));
        bool expectClosed = probe.GetProperty("server_closed_connection").GetBoolean();
        if (chosen is not ("pb" or "none"))
        {
            Assert.True(expectClosed);
            Assert.True(await peer.WaitForCloseAsync(), "the server should close after an unknown dialect");
            return;
        }
        BananaDialect dialect = chosen == "pb" ? BananaDialect.Pb : BananaDialect.None;
        peer.Dialect = dialect;
        object? version = Assert.Single(await peer.ReadAsync(1));
        TreeAssert.Equal(new List<object?> { "version"u8.ToArray(), 6L }, version);

        if (name != "no version message from client")
        {
            await peer.SendAsync(BananaVectorTests.Encode(new List<object?> { "version"u8.ToArray(), 6L }, dialect));
        }
        await peer.SendAsync(Convert.FromHexString(probe.GetProperty("payload_hex").GetString()!));

        var expected = probe.GetProperty("server_sent").EnumerateArray()
            .Select(m => Assert.Single(BananaVectorTests.DecodeAll(new ReadOnlySequence<byte>(Convert.FromHexString(m.GetProperty("hex").GetString()!)), dialect)))
            .ToList();
        List<object?> received;
        if (expectClosed)
        {
            Assert.True(await peer.WaitForCloseAsync(), $"{name}: Twisted closes the connection here");
            received = peer.Received;
        }
        else
        {
            // A call after the probe: its answer proves the connection lives and that nothing else came first.
            await peer.SendAsync(BananaVectorTests.Encode(new List<object?>
            {
                "message"u8.ToArray(), 1000L, "root"u8.ToArray(), "login"u8.ToArray(), 1L,
                new List<object?> { "tuple"u8.ToArray(), "sync"u8.ToArray() }, new List<object?> { "dictionary"u8.ToArray() },
            }, dialect));
            received = await peer.ReadUntilAnswerAsync(1000);
            received.RemoveAt(received.Count - 1);
        }
        Assert.Equal(expected.Count, received.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            AssertSameReaction(name, (List<object?>)expected[i]!, (List<object?>)received[i]!, dialect);
        }
    }

    /// <summary>Same command and request id; for errors, the same failure type. Challenges and counters differ by design.</summary>
    private static void AssertSameReaction(string name, List<object?> twisted, List<object?> ours, BananaDialect dialect)
    {
        Assert.Equal((byte[])twisted[0]!, (byte[])ours[0]!);
        Assert.Equal(twisted[1], ours[1]);
        if (System.Text.Encoding.ASCII.GetString((byte[])twisted[0]!) == "error")
        {
            Assert.Equal(FailureType(twisted[2], dialect), FailureType(ours[2], dialect));
        }
        Assert.True(twisted.Count == ours.Count, name);
    }

    private static string FailureType(object? tree, BananaDialect dialect)
    {
        var failure = JellySerializer.Deserialize(BananaVectorTests.Encode(tree, dialect), dialect,
            new JellyOptions { Types = new JellyTypeRegistry().Add<FailureShape>("twisted.spread.pb.CopyableFailure", _ => null, s => new FailureShape((PbDictionary)s!)) });
        return System.Text.Encoding.UTF8.GetString((byte[])((FailureShape)failure!).State["type"]!);
    }

    private sealed record FailureShape(PbDictionary State);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A hand-driven peer: raw bytes out, banana trees in.</summary>
    private sealed class RawPeer(Socket socket)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private readonly List<byte> _pending = [];
        private bool _closed;

        public BananaDialect Dialect { get; set; } = BananaDialect.None;

        public List<object?> Received { get; } = [];

        public async Task SendAsync(byte[] bytes) => await socket.SendAsync(bytes, SocketFlags.None, Ct);

        public async Task<List<object?>> ReadAsync(int count)
        {
            var items = new List<object?>();
            while (items.Count < count && await FillAsync(items))
            {
            }
            return items;
        }

        public async Task<List<object?>> ReadUntilAnswerAsync(long requestId)
        {
            var items = new List<object?>();
            while (!items.Exists(i => i is List<object?> l && l.Count > 1 && Equals(l[1], requestId)))
            {
                Assert.True(await FillAsync(items), "the connection closed before the sync answer");
            }
            return items;
        }

        public async Task<bool> WaitForCloseAsync()
        {
            while (await FillAsync(Received))
            {
            }
            return _closed;
        }

        /// <summary>Reads once; parses complete items. False when the peer closed (or 5 s passed).</summary>
        private async Task<bool> FillAsync(List<object?> items)
        {
            Parse(items);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            int n;
            try
            {
                n = await socket.ReceiveAsync(_buffer, SocketFlags.None, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            catch (SocketException)
            {
                _closed = true;
                return false;
            }
            if (n == 0)
            {
                _closed = true;
                return false;
            }
            _pending.AddRange(_buffer.AsSpan(0, n));
            Parse(items);
            return true;
        }

        private void Parse(List<object?> items)
        {
            var parser = new BananaParser(Dialect);
            var sequence = new ReadOnlySequence<byte>(_pending.ToArray());
            long before = sequence.Length;
            while (parser.TryParse(ref sequence, out object? item))
            {
                items.Add(item);
            }
            _pending.RemoveRange(0, (int)(before - sequence.Length));
        }
    }
}
