namespace Pb;

/// <summary>Where a <see cref="PbClient"/> is.</summary>
public enum PbClientState
{
    /// <summary>A connection is open (or was, until its loss is noticed).</summary>
    Connected,

    /// <summary>The connection was lost and the client is trying to open a new one.</summary>
    Reconnecting,

    /// <summary>Closed for good: disposed, lost without a retry policy, or the policy gave up.</summary>
    Closed,
}
