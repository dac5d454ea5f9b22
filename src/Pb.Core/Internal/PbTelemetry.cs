using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Pb;

/// <summary>
/// Metrics and traces of every PB connection: the meter and the activity source are both named <c>Pb.Web</c>. Every
/// instrument is checked for listeners first, so nobody pays for what nobody collects.
/// </summary>
internal static class PbTelemetry
{
    public const string Name = "Pb.Web";

    public static readonly Meter Meter = new(Name);
    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Open connections (both directions).</summary>
    public static readonly UpDownCounter<long> Connections = Meter.CreateUpDownCounter<long>("pb.connections", "{connection}", "Open PB connections.");

    /// <summary>Calls received and dispatched to a local object.</summary>
    public static readonly Counter<long> Calls = Meter.CreateCounter<long>("pb.calls", "{call}", "PB calls received.");

    /// <summary>Calls that ended in an error answer (or a failed one-way call).</summary>
    public static readonly Counter<long> CallErrors = Meter.CreateCounter<long>("pb.call.errors", "{call}", "PB calls that failed.");

    /// <summary>Time from receiving a call to its answer being queued.</summary>
    public static readonly Histogram<double> CallDuration = Meter.CreateHistogram<double>("pb.call.duration", "ms", "Duration of PB calls received.");

    /// <summary>One-way pushes not sent because their peer was gone or closing (dropped, never thrown at the pusher).</summary>
    public static readonly Counter<long> PushesDropped = Meter.CreateCounter<long>("pb.pushes.dropped", "{push}", "PB pushes dropped because the peer was gone or closing.");

    /// <summary>Counts one dropped push.</summary>
    public static void DroppedPush()
    {
        if (PushesDropped.Enabled)
        {
            PushesDropped.Add(1);
        }
    }

    /// <summary>Bytes read from peers.</summary>
    public static readonly Counter<long> BytesReceived = Meter.CreateCounter<long>("pb.bytes.received", "By", "Bytes received from PB peers.");

    /// <summary>Bytes written to peers.</summary>
    public static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("pb.bytes.sent", "By", "Bytes sent to PB peers.");

    /// <summary>Starts the activity of a received call, when anybody listens.</summary>
    public static Activity? StartCall(string method)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }
        Activity? activity = ActivitySource.StartActivity("pb.call " + method, ActivityKind.Server);
        activity?.SetTag("rpc.system", "perspective_broker");
        activity?.SetTag("rpc.method", method);
        return activity;
    }
}
