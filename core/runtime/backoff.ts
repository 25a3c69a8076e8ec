/**
 * The one retry backoff of Tunnel: exponential with full jitter. The n-th retry (n = 1, 2, ...) waits
 * a uniformly random delay in [0, min(maxDelayMs, initialDelayMs * 2^(n-1))]. Full jitter spreads the
 * retries of many tasks and workers that failed together (a sink or ZooKeeper outage) over the whole
 * window instead of bunching them at its middle, so they do not hit the recovering server at once
 * (the AWS Architecture Blog's "Exponential Backoff And Jitter" compares the schemes).
 *
 * Used by the runtime's sink retries, the webhook sink's retries inside a write and the cluster
 * member's ZooKeeper retries. `Backoff` carries the attempt count for a caller that resets it after
 * progress and gives up after a number of attempts (a reconnecting connection).
 */
import { AbortedError } from '../errors/index.ts';

export interface BackoffOptions {
  /** Upper bound of the first retry's delay; it doubles per retry. */
  initialDelayMs: number;
  /** Cap of the upper bound. */
  maxDelayMs: number;
}

/** Upper bound of the n-th retry's delay (n ≥ 1): initialDelayMs · 2^(n−1), capped at maxDelayMs. */
export function backoffCeiling(retry: number, options: BackoffOptions): number {
  const doublings = Math.min(Math.max(retry - 1, 0), 30);
  return Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** doublings);
}

/** The n-th retry's delay (n ≥ 1): uniformly random in [0, backoffCeiling(n)], whole milliseconds. */
export function backoffDelay(retry: number, options: BackoffOptions, random: () => number = Math.random): number {
  return Math.round(random() * backoffCeiling(retry, options));
}

/**
 * A retry sequence: `next()` gives the delay before the next try, or undefined once `maxAttempts`
 * retries were given (no limit without it); `reset()` starts over after progress.
 */
export class Backoff {
  #retries = 0;

  constructor(
    private readonly options: BackoffOptions & { maxAttempts?: number },
    private readonly random: () => number = Math.random,
  ) {}

  /** Retries given since the last reset. */
  get retries(): number {
    return this.#retries;
  }

  next(): number | undefined {
    if (this.options.maxAttempts !== undefined && this.#retries >= this.options.maxAttempts) return undefined;
    this.#retries += 1;
    return backoffDelay(this.#retries, this.options, this.random);
  }

  reset(): void {
    this.#retries = 0;
  }
}

/** Resolves after `ms`, or rejects with AbortedError as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError('aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
