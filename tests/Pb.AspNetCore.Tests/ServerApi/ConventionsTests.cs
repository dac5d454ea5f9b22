using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pb.Cred;

namespace Pb.AspNetCore.Tests.ServerApi;

/// <summary>
/// The .NET conventions a host relies on: log lines with stable event ids and categories named after types (refused
/// origins, failed logins, closed peers), the meter made by the app's IMeterFactory with OpenTelemetry's RPC names in
/// seconds, and option setters that refuse bad values.
/// </summary>
public sealed class ConventionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class User : Avatar
    {
        [Remote] public string Hello() => "hi";
    }

    private sealed class Realm : IRealm
    {
        public ValueTask<AvatarLogin> RequestAvatarAsync(string avatarId, object? mind, CancellationToken cancellationToken) =>
            ValueTask.FromResult(new AvatarLogin(new User()));
    }

    [Fact]
    public async Task Refused_origins_failed_logins_and_closed_peers_are_logged_with_stable_event_ids_and_no_secrets()
    {
        var logs = new CapturingLoggerProvider();
        (WebApplication app, Uri http, int tcp) = await KestrelTestApp.StartWithTcpAsync(builder =>
        {
            builder.Logging.AddProvider(logs).SetMinimumLevel(LogLevel.Trace);
            builder.Services.AddPerspectiveBroker(o => o.Portal.FailedLoginDelay = TimeSpan.Zero)
                .UsePortal(_ => new Portal(new Realm(), new InMemoryPasswordChecker(new Dictionary<string, string> { ["alice"] = "right-password" })));
        }, app => app.MapPerspectiveBroker("/pb"), Ct);
        await using (app)
        {
            using (var foreign = new ClientWebSocket())
            {
                foreign.Options.AddSubProtocol("pb.banana");
                foreign.Options.SetRequestHeader("Origin", "https://evil.example.net");
                await Assert.ThrowsAnyAsync<WebSocketException>(() => foreign.ConnectAsync(KestrelTestApp.Ws(http), Ct));
            }
            await using (PbClient client = await PbClient.ConnectAsync("127.0.0.1", tcp, cancellationToken: Ct))
            {
                await Assert.ThrowsAsync<RemoteException>(() => client.LoginAsync(new UsernamePassword("alice", "wrong-password"), cancellationToken: Ct));
                RemoteReference alice = await client.LoginAsync(new UsernamePassword("alice", "right-password"), cancellationToken: Ct);
                Assert.Equal("hi", await alice.CallRemoteAsync<string>("hello"));
            }
            while (!logs.Entries.Any(e => e.EventId == 204))
            {
                await Task.Delay(5, Ct);
            }
        }
        CapturingLoggerProvider.Entry[] entries = [.. logs.Entries];
        CapturingLoggerProvider.Entry origin = Assert.Single(entries, e => e.EventId == 200);
        Assert.Equal("Pb.AspNetCore.PbConnectionHandler", origin.Category);
        Assert.Contains("https://evil.example.net", origin.Message, StringComparison.Ordinal);
        CapturingLoggerProvider.Entry failed = Assert.Single(entries, e => e.EventId == 300);
        Assert.Contains("1 of 5", failed.Message, StringComparison.Ordinal);
        Assert.Contains(entries, e => e.EventId == 203 && e.Message.Contains("over tcp", StringComparison.Ordinal));
        Assert.Contains(entries, e => e.EventId == 204 && e.Level == LogLevel.Information);
        Assert.DoesNotContain(entries, e => e.Message.Contains("password", StringComparison.OrdinalIgnoreCase) && e.Message.Contains("wrong", StringComparison.Ordinal));
        Assert.DoesNotContain(entries, e => e.Message.Contains("right-password", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_meter_comes_from_the_apps_meter_factory_with_rpc_names_in_seconds()
    {
        (WebApplication app, Uri http, int tcp) = await KestrelTestApp.StartWithTcpAsync(
            builder => builder.Services.AddPerspectiveBroker().UsePortal(_ => new Portal(new Realm()) { }),
            app => app.MapPerspectiveBroker("/pb"), Ct);
        await using (app)
        {
            IMeterFactory factory = app.Services.GetRequiredService<IMeterFactory>();
            var seen = new ConcurrentQueue<(string Name, string? Unit, double Value, string? Method, string? System)>();
            using var listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == "Pb.Web" && ReferenceEquals(instrument.Meter.Scope, factory))
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
            };
            listener.SetMeasurementEventCallback<double>((i, v, tags, _) =>
            {
                string? method = null, system = null;
                foreach (KeyValuePair<string, object?> tag in tags)
                {
                    method = tag.Key == "rpc.method" ? (string?)tag.Value : method;
                    system = tag.Key == "rpc.system" ? (string?)tag.Value : system;
                }
                seen.Enqueue((i.Name, i.Unit, v, method, system));
            });
            listener.SetMeasurementEventCallback<long>((i, v, _, _) => seen.Enqueue((i.Name, i.Unit, v, null, null)));
            listener.Start();

            await using (PbClient client = await PbClient.ConnectWebSocketAsync(KestrelTestApp.Ws(http), cancellationToken: Ct))
            {
                await Assert.ThrowsAsync<RemoteException>(() => client.LoginAnonymousAsync(cancellationToken: Ct)); // no anonymous checker
            }
            await using (PbClient client = await PbClient.ConnectAsync("127.0.0.1", tcp, cancellationToken: Ct))
            {
                await Assert.ThrowsAsync<RemoteException>(() => client.LoginAnonymousAsync(cancellationToken: Ct));
            }
            var durations = seen.Where(s => s.Name == "rpc.server.call.duration").ToList();
            Assert.True(durations.Count >= 2, "a duration per call, on the app's meter");
            Assert.All(durations, d =>
            {
                Assert.Equal("s", d.Unit);
                Assert.Equal("perspective_broker", d.System);
                Assert.Equal("loginAnonymous", d.Method);
                Assert.InRange(d.Value, 0, 30);
            });
            Assert.Contains(seen, s => s.Name == "pb.connections" && s.Value == 1);
            Assert.Contains(seen, s => s.Name == "pb.bytes.received");
        }
    }

    [Fact]
    public void Option_setters_refuse_bad_values()
    {
        var options = new PerspectiveBrokerOptions();
        Assert.Throws<ArgumentOutOfRangeException>(() => options.KeepAliveInterval = TimeSpan.FromSeconds(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.PeerTimeout = TimeSpan.FromSeconds(-5));
        Assert.Throws<ArgumentNullException>(() => options.Broker = null!);
        Assert.Throws<ArgumentNullException>(() => options.Portal = null!);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Broker.MaxConcurrentInvocations = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Broker.PreferredDialect = (Pb.Banana.BananaDialect)99);
        Assert.Throws<ArgumentNullException>(() => options.Broker.Jelly = null!);
        Assert.Throws<ArgumentOutOfRangeException>(() => options.Portal.MaxFailedLoginsPerConnection = 0);
        options.KeepAliveInterval = TimeSpan.Zero; // pings off: allowed
        options.PeerTimeout = Timeout.InfiniteTimeSpan;
        Assert.Equal(256, options.Broker.MaxConcurrentInvocations);
    }
}
