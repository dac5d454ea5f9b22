/** What a retry policy is told before each reconnect attempt (SignalR's `RetryContext`). */
export interface RetryContext {
  /** Attempts made so far in this round (0 before the first). */
  readonly previousRetryCount: number;
  /** Milliseconds since the connection was lost. */
  readonly elapsedMilliseconds: number;
  /** Why the connection was lost, or why the last attempt failed. */
  readonly retryReason: Error;
}

/** When to try reconnecting again (SignalR's `IRetryPolicy`): a delay in milliseconds, or `null` to give up. */
export interface IRetryPolicy {
  nextRetryDelayInMilliseconds(retryContext: RetryContext): number | null;
}

/** The default delays: at once, then 2, 10 and 30 seconds, then give up (SignalR's defaults). */
export const DEFAULT_RETRY_DELAYS: readonly number[] = [0, 2_000, 10_000, 30_000];

/** Tries once after each delay of a list, then gives up. */
export class DelayListRetryPolicy implements IRetryPolicy {
  readonly #delays: readonly number[];

  constructor(delays: readonly number[] = DEFAULT_RETRY_DELAYS) {
    for (const delay of delays) {
      if (!Number.isFinite(delay) || delay < 0) {
        throw new RangeError(`A retry delay must be a finite number of milliseconds, 0 or more (got ${delay}).`);
      }
    }
    this.#delays = [...delays];
  }

  nextRetryDelayInMilliseconds(retryContext: RetryContext): number | null {
    return this.#delays[retryContext.previousRetryCount] ?? null;
  }
}

/** The `reconnect` option as a policy: `true` the defaults, a list its delays, a policy itself, else none. */
export function toRetryPolicy(reconnect: boolean | readonly number[] | IRetryPolicy | undefined): IRetryPolicy | undefined {
  if (reconnect === undefined || reconnect === false) {
    return undefined;
  }
  if (reconnect === true) {
    return new DelayListRetryPolicy();
  }
  return Array.isArray(reconnect) ? new DelayListRetryPolicy(reconnect) : (reconnect as IRetryPolicy);
}
