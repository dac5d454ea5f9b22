using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Pb.Tests.Broker;

/// <summary>The Pb.Web meter and activity source report connections, calls, errors, durations and bytes.</summary>
public sealed class TelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Calls_errors_durations_bytes_and_activities_are_reported()
    {
        var totals = new Dictionary<string, double>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Pb.Web")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Add(Instrument instrument, double value)
        {
            lock (totals)
            {
                totals[instrument.Name] = totals.GetValueOrDefault(instrument.Name) + (instrument.Name == "rpc.server.call.duration" ? 1 : value);
            }
        }
        meters.SetMeasurementEventCallback<long>((i, v, _, _) => Add(i, v));
        var durationTags = new List<Dictionary<string, object?>>();
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) =>
        {
            Add(i, v);
            lock (durationTags)
            {
                var copy = new Dictionary<string, object?>();
                foreach (KeyValuePair<string, object?> tag in tags)
                {
                    copy[tag.Key] = tag.Value;
                }
                copy["unit"] = i.Unit;
                copy["seconds"] = v;
                durationTags.Add(copy);
            }
        });
        meters.Start();

        var activities = new List<Activity>();
        using var tracing = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Pb.Web",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a =>
            {
                lock (activities)
                {
                    activities.Add(a);
                }
            },
        };
        ActivitySource.AddActivityListener(tracing);

        await using (var host = await BrokerTestHost.StartAsync())
        {
            RemoteReference root = await host.Client.GetRootObjectAsync(Ct);
            for (int i = 0; i < 5; i++)
            {
                Assert.Equal(i + 1, await root.CallRemoteAsync<int>("add_one", i));
            }
            await Assert.ThrowsAsync<RemoteException>(() => root.CallRemoteAsync("fail", "boom"));
            Assert.Equal(3, await root.CallRemoteAsync<long>("slowAdd", 1, 2));
        }

        lock (totals)
        {
            Assert.True(totals.GetValueOrDefault("pb.calls") >= 7, $"calls {totals.GetValueOrDefault("pb.calls")}");
            Assert.True(totals.GetValueOrDefault("pb.call.errors") >= 1);
            Assert.True(totals.GetValueOrDefault("rpc.server.call.duration") >= 7);
            Assert.True(totals.GetValueOrDefault("pb.bytes.received") > 0);
            Assert.True(totals.GetValueOrDefault("pb.bytes.sent") > 0);
        }
        lock (durationTags)
        {
            // OpenTelemetry's RPC conventions: seconds, rpc.system / rpc.service / rpc.method, error.type on failures.
            Dictionary<string, object?> add = durationTags.First(t => (string?)t["rpc.method"] == "add_one");
            Assert.Equal("s", add["unit"]);
            Assert.Equal("perspective_broker", add["rpc.system"]);
            Assert.Equal("TestRoot", add["rpc.service"]);
            Assert.False(add.ContainsKey("error.type"));
            Assert.InRange((double)add["seconds"]!, 0, 5);
            Assert.Equal("builtins.ValueError", durationTags.First(t => (string?)t["rpc.method"] == "fail")["error.type"]);
            Assert.True((double)durationTags.First(t => (string?)t["rpc.method"] == "slowAdd")["seconds"]! > 0);
        }
        lock (activities)
        {
            Assert.Contains(activities, a => a.DisplayName == "pb.call add_one" && (string?)a.GetTagItem("rpc.method") == "add_one");
            Assert.Contains(activities, a => a.DisplayName == "pb.call fail" && a.Status == ActivityStatusCode.Error);
            Assert.Contains(activities, a => a.DisplayName == "pb.call slowAdd");
        }
    }
}
