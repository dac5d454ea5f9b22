namespace Pb.Internal;

/// <summary>
/// Waits until a moment however far away: timers take at most about 49.7 days (uint.MaxValue - 1 ms), so a token
/// that expires in a year would make <c>Task.Delay</c> or <c>CancelAfter</c> throw. Waits in steps of at most
/// <see cref="MaxStep"/>, looking at the clock again after each.
/// </summary>
internal static class LongDelay
{
    internal static readonly TimeSpan MaxStep = TimeSpan.FromDays(24);

    /// <summary>Completes at <paramref name="due"/> (at once when it has passed); cancelled by <paramref name="cancellationToken"/>.</summary>
    internal static async Task UntilAsync(DateTimeOffset due, TimeProvider time, CancellationToken cancellationToken)
    {
        while (true)
        {
            TimeSpan left = due - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return;
            }
            await Task.Delay(left < MaxStep ? left : MaxStep, time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Runs <paramref name="close"/> (a policy close: 1008 on a WebSocket) at <paramref name="expiry"/>, unless <paramref name="stop"/> comes first.</summary>
    internal static async Task CloseAtAsync(Func<Exception, Task> close, DateTimeOffset expiry, TimeProvider time, CancellationToken stop)
    {
        try
        {
            await UntilAsync(expiry, time, stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await close(new PbProtocolException("The token this connection logged in with has expired (CloseOnTokenExpiry).") { IsPolicyViolation = true }).ConfigureAwait(false);
    }
}
