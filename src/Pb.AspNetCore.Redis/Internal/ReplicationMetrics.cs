using System.Diagnostics.Metrics;

namespace Pb.Redis;

/// <summary>The replication's instruments, on the meter <c>Pb.Redis</c> (one set per <see cref="IMeterFactory"/>).</summary>
internal sealed class ReplicationMetrics
{
    public const string MeterName = "Pb.Redis";

    public ReplicationMetrics(IMeterFactory? factory)
    {
        Meter meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        Applied = meter.CreateCounter<long>("pb.replication.changes.applied", "{change}", "Changes taken by a replica in sequence (one Apply refused included).");
        Duplicates = meter.CreateCounter<long>("pb.replication.changes.duplicate", "{change}", "Changes received again and dropped.");
        Dropped = meter.CreateCounter<long>("pb.replication.changes.dropped", "{change}", "Messages not queued (the queue was full) and read from the log instead.");
        GapsRepaired = meter.CreateCounter<long>("pb.replication.gaps.repaired", "{gap}", "Gaps filled from the log (one it could not fill is a resync).");
        Resyncs = meter.CreateCounter<long>("pb.replication.resyncs", "{resync}", "Replicas reloaded from a snapshot after their first load (the log trimmed past them, Redis lost its data).");
        Lag = meter.CreateHistogram<double>("pb.replication.lag", "s", "From a change's submission to its application on this node.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5] });
    }

    public Counter<long> Applied { get; }
    public Counter<long> Duplicates { get; }
    public Counter<long> Dropped { get; }
    public Counter<long> GapsRepaired { get; }
    public Counter<long> Resyncs { get; }
    public Histogram<double> Lag { get; }
}
