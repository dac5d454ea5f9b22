using System.Net;
using System.Net.Sockets;
using Pb.Banana;
using Pb.Tests.Banana;

namespace Pb.Tests.Broker;

/// <summary>A peer that sends calls but never reads the answers is cut off, with the server's memory bounded.</summary>
public sealed class SlowPeerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_peer_that_never_reads_is_cut_off_at_the_outgoing_limit()
    {
        var options = BrokerTestHost.Options();
        options.MaxOutgoingBufferSize = 1024 * 1024;
        await using var server = new PbServer(new TestRoot(), options);
        server.Start(new IPEndPoint(IPAddress.Loopback, 0));
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        socket.ReceiveBufferSize = 4096; // and never read: the server's answers pile up
        await socket.ConnectAsync(IPAddress.Loopback, server.Port, Ct);
        await socket.SendAsync(BananaNegotiation.ChoosePb.ToArray(), SocketFlags.None, Ct);

        // 300 echo calls of a 100 KB string: 30 MB of answers for a peer that reads nothing.
        byte[] payload = new byte[100_000];
        int sent = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(20));
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
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // The server closed the connection while we were still sending: what we want.
        }

        PbConnection? connection = server.Connections.FirstOrDefault();
        for (int i = 0; i < 200 && server.Connections.Count > 0; i++)
        {
            await Task.Delay(50, Ct);
        }
        Assert.Empty(server.Connections);
        Assert.True(sent > 0);
        if (connection is not null)
        {
            Assert.Contains("MaxOutgoingBufferSize", connection.CloseReason?.Message ?? "", StringComparison.Ordinal);
        }
    }
}
