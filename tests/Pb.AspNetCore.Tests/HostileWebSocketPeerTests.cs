using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Pb.AspNetCore.Tests;

/// <summary>Origins, silent peers: what the WebSocket endpoint refuses or cuts off.</summary>
public sealed class HostileWebSocketPeerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed class Calculator : Root
    {
        [Remote("add_one")] public long AddOne(long n) => n + 1;
    }

    private static async Task<(WebApplication App, Uri Endpoint)> StartAsync(Action<Pb.AspNetCore.PerspectiveBrokerOptions>? configure = null)
    {
        var (app, http) = await KestrelTestApp.StartAsync(
            s => s.AddPerspectiveBroker(configure).UseRoot((_, _) => new Calculator()), a => a.MapPerspectiveBroker("/pb"), Ct);
        return (app, KestrelTestApp.Ws(http));
    }

    [Fact]
    public async Task A_page_on_a_foreign_origin_is_refused_unless_listed()
    {
        var (app, endpoint) = await StartAsync(o => o.AllowedOrigins.Add("https://app.example.com"));
        await using (app)
        {
            Task<PbClient> From(string origin) =>
                PbClient.ConnectWebSocketAsync(endpoint, configure: ws => ws.SetRequestHeader("Origin", origin), cancellationToken: Ct);

            var foreign = await Assert.ThrowsAsync<WebSocketException>(() => From("https://evil.example.net"));
            Assert.Contains("403", foreign.Message, StringComparison.Ordinal);

            await using (PbClient listed = await From("https://app.example.com"))
            {
                Assert.Equal(2, await (await listed.GetRootObjectAsync(Ct)).CallRemoteAsync<long>("add_one", 1));
            }
            await using (PbClient sameOrigin = await From($"http://{endpoint.Host}:{endpoint.Port}"))
            {
                Assert.Equal(3, await (await sameOrigin.GetRootObjectAsync(Ct)).CallRemoteAsync<long>("add_one", 2));
            }
        }
    }

    [Fact]
    public async Task A_silent_peer_is_noticed_by_the_keep_alive()
    {
        var (app, endpoint) = await StartAsync(o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.PeerTimeout = TimeSpan.FromMilliseconds(300);
        });
        await using (app)
        {
            // A hand-made WebSocket handshake, then silence: no pong, no PB byte.
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, endpoint.Port, Ct);
            string key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            string request = $"GET /pb HTTP/1.1\r\nHost: {endpoint.Host}:{endpoint.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: pb.banana\r\n\r\n";
            await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, Ct);

            var received = new List<byte>();
            byte[] buffer = new byte[4096];
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            try
            {
                int n;
                while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
                {
                    received.AddRange(buffer.AsSpan(0, n));
                }
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
            {
                // The server aborted the silent connection (a reset rather than a close handshake): cut off all the same.
            }
            string text = Encoding.ASCII.GetString([.. received]);
            Assert.StartsWith("HTTP/1.1 101", text, StringComparison.Ordinal);
            Assert.False(timeout.IsCancellationRequested, "the server should close the silent connection well before 10 s");
        }
    }
}
