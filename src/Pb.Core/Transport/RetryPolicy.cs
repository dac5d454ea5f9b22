namespace Pb;

/// <summary>What a retry policy is told before each reconnect attempt (SignalR's <c>RetryContext</c>).</summary>
public sealed class RetryContext
{
    /// <summary>Attempts made so far since the connection was lost (0 before the first).</summary>
    public long PreviousRetryCount { get; init; }

    /// <summary>Time since the connection was lost.</summary>
    public TimeSpan ElapsedTime { get; init; }

    /// <summary>Why the connection was lost, or why the last attempt failed.</summary>
    public required Exception RetryReason { get; init; }
}

/// <summary>When a <see cref="PbClient"/> tries reconnecting again (SignalR's <c>IRetryPolicy</c>).</summary>
public interface IRetryPolicy
{
    /// <summary>The delay before the next attempt, or null to give up (the client then closes for good).</summary>
    TimeSpan? NextRetryDelay(RetryContext retryContext);
}

/// <summary>Tries once after each delay of a list, then gives up.</summary>
public sealed class DelayListRetryPolicy : IRetryPolicy
{
    private readonly TimeSpan[] _delays;

    /// <summary>The default delays: at once, then after 2, 10 and 30 seconds (SignalR's and the TypeScript client's).</summary>
    public static IReadOnlyList<TimeSpan> DefaultDelays { get; } =
        [TimeSpan.Zero, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)];

    /// <summary>A policy with <see cref="DefaultDelays"/>.</summary>
    public DelayListRetryPolicy()
        : this([.. DefaultDelays])
    {
    }

    /// <summary>A policy trying once after each of <paramref name="delays"/>, in order.</summary>
    public DelayListRetryPolicy(params TimeSpan[] delays)
    {
        ArgumentNullException.ThrowIfNull(delays);
        foreach (TimeSpan delay in delays)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero, nameof(delays));
        }
        _delays = [.. delays];
    }

    /// <inheritdoc/>
    public TimeSpan? NextRetryDelay(RetryContext retryContext)
    {
        ArgumentNullException.ThrowIfNull(retryContext);
        return retryContext.PreviousRetryCount < _delays.Length ? _delays[retryContext.PreviousRetryCount] : null;
    }
}

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

/// <summary>How a <see cref="PbClient"/> connects, beyond the address.</summary>
public sealed class PbClientOptions
{
    /// <summary>The broker's options: limits on what the server sends, the jelly registry, pending calls.</summary>
    public BrokerOptions Broker { get; set; } = new();

    /// <summary>Where the client logs (nothing by default). Message content is never logged.</summary>
    public Microsoft.Extensions.Logging.ILogger? Logger { get; set; }

    /// <summary>
    /// Reconnects automatically when the connection is lost, with these delays, and repeats the last login on the
    /// new connection (<see cref="PbClient.LoginAsync(Func{RemoteReference, CancellationToken, Task{RemoteReference}}, CancellationToken)"/>).
    /// Null (the default): a lost connection closes the client. <see cref="DelayListRetryPolicy"/> gives the default delays.
    /// </summary>
    public IRetryPolicy? Reconnect { get; set; }

    /// <summary>
    /// WebSockets only: called before every connection attempt (the first and each reconnect); a token it answers
    /// goes as <c>Authorization: Bearer</c> on the upgrade request, so <c>loginAuthenticated</c> sees that identity.
    /// </summary>
    public Func<CancellationToken, ValueTask<string?>>? AccessTokenProvider { get; set; }

    /// <summary>WebSockets only: sets up each <see cref="System.Net.WebSockets.ClientWebSocket"/> (headers, cookies, certificates).</summary>
    public Action<System.Net.WebSockets.ClientWebSocketOptions>? ConfigureWebSocket { get; set; }

    /// <summary>WebSockets only: another sub-protocol than <c>pb.banana</c> (for example Pb.AspNetCore's <c>PbMessagePackTranscoder</c>).</summary>
    public Banana.IBananaTranscoder? Transcoder { get; set; }
}
