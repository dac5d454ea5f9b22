using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Pb.Jelly;

namespace Pb.AspNetCore.Tests;

/// <summary>pb.banana and pb.msgpack on real Kestrel sockets: negotiation, calls both ways, hostile frames, per-endpoint settings.</summary>
public sealed class SubProtocolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public sealed class Service : Root
    {
        [Remote("add_one")] public long AddOne(long n) => n + 1;

        [Remote] public object? Echo(object? x) => x;

        /// <summary>Calls back into the client: server-to-client traffic over the same sub-protocol.</summary>
        [Remote] public async Task<long> Twice(RemoteReference callback, long n) => await callback.CallRemoteAsync<long>("double", n);
    }

    public sealed class Doubler : Referenceable
    {
        [Remote("double")] public long Double(long n) => n * 2;
    }

    private static Task<(WebApplication App, Uri Http)> StartAsync(bool messagePack, Action<WebApplication>? map = null) =>
        KestrelTestApp.StartAsync(
            s =>
            {
                IPerspectiveBrokerBuilder pb = s.AddPerspectiveBroker().UseRoot((_, _) => new Service());
                if (messagePack)
                {
                    pb.AddMessagePackProtocol();
                }
            },
            map ?? (a => a.MapPerspectiveBroker("/pb")),
            Ct);

    private static Uri Ws(Uri http, string path) => KestrelTestApp.Ws(http, path);

    private static async Task<ClientWebSocket> OpenAsync(Uri uri, params string[] subProtocols)
    {
        var socket = new ClientWebSocket();
        foreach (string p in subProtocols)
        {
            socket.Options.AddSubProtocol(p);
        }
        await socket.ConnectAsync(uri, Ct);
        return socket;
    }

    [Fact]
    public async Task Msgpack_carries_every_kind_of_call_and_value()
    {
        var (app, http) = await StartAsync(messagePack: true);
        await using (app)
        {
            await using PbClient client = await PbClient.ConnectWebSocketAsync(Ws(http, "/pb"), PbMessagePackTranscoder.Instance, cancellationToken: Ct);
            RemoteReference root = await client.GetRootObjectAsync(Ct);
            Assert.Equal(42, await root.CallRemoteAsync<long>("add_one", 41));
            // Text, bytes that are not UTF-8, big integers, floats, nesting, dictionaries: all through MessagePack and back.
            object?[] value =
            [
                "héllo", new byte[] { 0xff, 0x00, 0xfe }, System.Numerics.BigInteger.Pow(2, 200), -1.5, double.PositiveInfinity,
                long.MinValue, new PbTuple(1L, "x"), new PbDictionary { ["k"] = new object?[] { null, true } },
            ];
            object? echoed = await root.CallRemoteAsync<object?>("echo", [value]);
            Assert.Equal(JellyValueText(value), JellyValueText(echoed));
            var big = new string('x', 300_000); // one MessagePack string, many WebSocket frames
            Assert.Equal(big, await root.CallRemoteAsync<string>("echo", big));
            Assert.Equal(14, await root.CallRemoteAsync<long>("twice", new Doubler(), 7L));
            long[] many = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => root.CallRemoteAsync<long>("add_one", i)));
            Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), many);
        }
    }

    private static string JellyValueText(object? value) => Convert.ToHexString(JellySerializer.Serialize(value, Pb.Banana.BananaDialect.None));

    [Fact]
    public async Task The_server_prefers_banana_and_refuses_what_it_does_not_speak()
    {
        var (app, http) = await StartAsync(messagePack: true);
        await using (app)
        {
            using (ClientWebSocket both = await OpenAsync(Ws(http, "/pb"), "pb.msgpack", "pb.banana"))
            {
                Assert.Equal("pb.banana", both.SubProtocol);
            }
            using (ClientWebSocket msgpack = await OpenAsync(Ws(http, "/pb"), "pb.msgpack"))
            {
                Assert.Equal("pb.msgpack", msgpack.SubProtocol);
            }
            var unknown = await Assert.ThrowsAsync<WebSocketException>(() => OpenAsync(Ws(http, "/pb"), "pb.json"));
            Assert.Contains("400", unknown.Message, StringComparison.Ordinal);
        }

        // Without AddMessagePackProtocol the endpoint speaks banana only.
        var (bananaOnly, http2) = await StartAsync(messagePack: false);
        await using (bananaOnly)
        {
            var refused = await Assert.ThrowsAsync<WebSocketException>(() => PbClient.ConnectWebSocketAsync(Ws(http2, "/pb"), PbMessagePackTranscoder.Instance, cancellationToken: Ct));
            Assert.Contains("400", refused.Message, StringComparison.Ordinal);
        }
    }

    public static TheoryData<string, byte[]> OversizedFrames => new()
    {
        // A banana string header announcing 1 MiB (past MaxItemLength 640 KiB), then a little of it.
        { "pb.banana", [0x00, 0x00, 0x40, 0x82, .. new byte[64]] },
        // A MessagePack str 32 of 1 MiB: the same lie in the other encoding.
        { "pb.msgpack", [0xdb, 0x00, 0x10, 0x00, 0x00, .. new byte[64]] },
    };

    [Theory]
    [MemberData(nameof(OversizedFrames))]
    public async Task An_oversized_frame_closes_only_that_connection(string subProtocol, byte[] frame)
    {
        var (app, http) = await StartAsync(messagePack: true);
        await using (app)
        {
            await using PbClient bystander = await PbClient.ConnectWebSocketAsync(Ws(http, "/pb"), cancellationToken: Ct);
            RemoteReference root = await bystander.GetRootObjectAsync(Ct);

            using ClientWebSocket attacker = await OpenAsync(Ws(http, "/pb"), subProtocol);
            byte[] buffer = new byte[4096];
            ValueWebSocketReceiveResult offer = await attacker.ReceiveAsync(buffer.AsMemory(), Ct); // the server's dialect offer
            Assert.True(offer.Count > 0);
            await attacker.SendAsync(frame, WebSocketMessageType.Binary, true, Ct);
            // The server closes this connection: the receive ends (a close frame or an aborted socket), never hangs.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(TimeSpan.FromSeconds(15));
            bool closed = false;
            try
            {
                while (true)
                {
                    ValueWebSocketReceiveResult r = await attacker.ReceiveAsync(buffer.AsMemory(), deadline.Token);
                    if (r.MessageType == WebSocketMessageType.Close)
                    {
                        closed = true;
                        break;
                    }
                }
            }
            catch (WebSocketException)
            {
                closed = true;
            }
            Assert.True(closed);
            Assert.False(deadline.IsCancellationRequested);
            // The other connection did not notice.
            Assert.Equal(8, await root.CallRemoteAsync<long>("add_one", 7));
        }
    }

    [Fact]
    public async Task An_endpoint_overrides_the_apps_settings_for_itself_only()
    {
        var (app, http) = await StartAsync(
            messagePack: false,
            map: a =>
            {
                a.MapPerspectiveBroker("/pb");
                a.MapPerspectiveBroker("/small", o =>
                {
                    o.Broker.BananaLimits = new Pb.Banana.BananaLimits { MaxItemLength = 1024 };
                    o.AllowedOrigins.Add("https://partner.example.com");
                    o.SubProtocols.Add(PbMessagePackTranscoder.Instance);
                });
            });
        await using (app)
        {
            string text = new('y', 10_000);
            // The app's settings: 10 KB is fine, the partner origin is foreign, MessagePack is not offered.
            await using (PbClient wide = await PbClient.ConnectWebSocketAsync(Ws(http, "/pb"), cancellationToken: Ct))
            {
                Assert.Equal(text, await (await wide.GetRootObjectAsync(Ct)).CallRemoteAsync<string>("echo", text));
            }
            var foreign = await Assert.ThrowsAsync<WebSocketException>(() => PbClient.ConnectWebSocketAsync(Ws(http, "/pb"), configure: o => o.SetRequestHeader("Origin", "https://partner.example.com"), cancellationToken: Ct));
            Assert.Contains("403", foreign.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<WebSocketException>(() => PbClient.ConnectWebSocketAsync(Ws(http, "/pb"), PbMessagePackTranscoder.Instance, cancellationToken: Ct));

            // "/small": its own item limit closes the connection on 10 KB, the partner may connect, MessagePack is offered.
            await using (PbClient partner = await PbClient.ConnectWebSocketAsync(Ws(http, "/small"), PbMessagePackTranscoder.Instance, configure: o => o.SetRequestHeader("Origin", "https://partner.example.com"), cancellationToken: Ct))
            {
                RemoteReference small = await partner.GetRootObjectAsync(Ct);
                Assert.Equal(2, await small.CallRemoteAsync<long>("add_one", 1));
                await Assert.ThrowsAsync<ConnectionLostException>(() => small.CallRemoteAsync<string>("echo", text));
            }
        }
    }
}
