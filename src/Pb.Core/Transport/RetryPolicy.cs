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
