using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace Pb;

/// <summary>
/// Traces of every PB connection: the activity source <c>Pb.Web</c>. Metrics live in <see cref="PbMetrics"/>.
/// </summary>
internal static class PbTelemetry
{
    public const string Name = "Pb.Web";

    /// <summary>The value of <c>rpc.system</c> (OpenTelemetry's RPC conventions).</summary>
    public const string RpcSystem = "perspective_broker";

    /// <summary>The meter of hosts without an <see cref="IMeterFactory"/> (a plain <see cref="PbServer"/>).</summary>
    public static readonly Meter Meter = new(Name);

    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Starts the activity of a received call, when anybody listens.</summary>
    public static Activity? StartCall(string method)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }
        Activity? activity = ActivitySource.StartActivity("pb.call " + method, ActivityKind.Server);
        activity?.SetTag("rpc.system", RpcSystem);
        activity?.SetTag("rpc.method", method);
        return activity;
    }
}

/// <summary>
/// The instruments of the meter <c>Pb.Web</c>: from the host's <see cref="IMeterFactory"/> when it has one
/// (<see cref="BrokerOptions.MeterFactory"/>; Pb.AspNetCore sets the app's), else a process-wide meter. Durations in
/// seconds and names after OpenTelemetry's RPC semantic conventions; every instrument is checked for listeners first,
/// so nobody pays for what nobody collects.
/// </summary>
internal sealed class PbMetrics
{
    private static readonly ConditionalWeakTable<IMeterFactory, PbMetrics> s_byFactory = new();

    public static PbMetrics Default { get; } = new(PbTelemetry.Meter);

    public static PbMetrics For(IMeterFactory? factory) =>
        factory is null ? Default : s_byFactory.GetValue(factory, static f => new PbMetrics(f.Create(PbTelemetry.Name)));

    private PbMetrics(Meter meter)
    {
        Connections = meter.CreateUpDownCounter<long>("pb.connections", "{connection}", "Open PB connections.");
        Calls = meter.CreateCounter<long>("pb.calls", "{call}", "PB calls received.");
        CallErrors = meter.CreateCounter<long>("pb.call.errors", "{call}", "PB calls that failed.");
        CallDuration = meter.CreateHistogram<double>("rpc.server.call.duration", "s", "Duration of PB calls received, until the answer is queued.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10] });
        BytesReceived = meter.CreateCounter<long>("pb.bytes.received", "By", "Bytes received from PB peers.");
        BytesSent = meter.CreateCounter<long>("pb.bytes.sent", "By", "Bytes sent to PB peers.");
        PushesDropped = meter.CreateCounter<long>("pb.pushes.dropped", "{push}", "PB pushes dropped because the peer was gone or closing.");
    }

    /// <summary>Open connections (both directions).</summary>
    public UpDownCounter<long> Connections { get; }

    /// <summary>Calls received and dispatched to a local object.</summary>
    public Counter<long> Calls { get; }

    /// <summary>Calls that ended in an error answer (or a failed one-way call).</summary>
    public Counter<long> CallErrors { get; }

    /// <summary>Time from receiving a call to its answer being queued, in seconds, tagged <c>rpc.system</c>, <c>rpc.service</c>, <c>rpc.method</c> and <c>error.type</c>.</summary>
    public Histogram<double> CallDuration { get; }

    /// <summary>Bytes read from peers.</summary>
    public Counter<long> BytesReceived { get; }

    /// <summary>Bytes written to peers.</summary>
    public Counter<long> BytesSent { get; }

    /// <summary>One-way pushes not sent because their peer was gone or closing (dropped, never thrown at the pusher).</summary>
    public Counter<long> PushesDropped { get; }

    /// <summary>Records one call's duration with its OpenTelemetry RPC attributes.</summary>
    public void RecordCall(double seconds, string method, Type service, Exception? error)
    {
        var tags = new TagList
        {
            { "rpc.system", PbTelemetry.RpcSystem },
            { "rpc.service", service.Name },
            { "rpc.method", method },
        };
        if (error is not null)
        {
            tags.Add("error.type", error is PbException pb && pb.RemoteTypeName is { } remote ? remote : error.GetType().FullName);
        }
        CallDuration.Record(seconds, tags);
    }

    /// <summary>Counts one dropped push.</summary>
    public void DroppedPush()
    {
        if (PushesDropped.Enabled)
        {
            PushesDropped.Add(1);
        }
    }
}
