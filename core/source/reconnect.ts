/**
 * Reconnect and liveness of the binlog connection: when to try again after it dropped, and when a
 * silent connection counts as dropped.
 */
import { Backoff } from '../runtime/backoff.ts';
import type { SourceOptions } from './source.ts';

/** A connection that lived this long counts as progress: the backoff starts over after it drops. */
const HEALTHY_CONNECTION_MS = 30_000;

/**
 * The backoff between reconnect attempts: Tunnel's one retry backoff (core/runtime/backoff.ts, full
 * jitter) from `initialDelayMs` doubling up to `maxDelayMs`, giving up after `maxAttempts` attempts in
 * a row that made no progress.
 */
export class ReconnectSchedule {
  private readonly backoff: Backoff;
  private connectedAt = 0;
  private committedSinceConnect = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: SourceOptions['reconnect'] = {}) {
    this.backoff = new Backoff({
      initialDelayMs: options.initialDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 10_000,
      maxAttempts: options.maxAttempts ?? 20,
    });
  }

  /** Attempts since the connection last made progress (a commit, or a connection that lived a while). */
  get attempts(): number {
    return this.backoff.retries;
  }

  /** A connection is being made: it has made no progress yet. */
  connecting(): void {
    this.connectedAt = Number.POSITIVE_INFINITY;
    this.committedSinceConnect = false;
  }

  /** The connection is up and streaming. */
  connected(): void {
    this.connectedAt = Date.now();
  }

  /** The connection delivered a commit. */
  committed(): void {
    this.committedSinceConnect = true;
  }

  /**
   * The connection dropped: the delay before the next attempt, or undefined when `maxAttempts`
   * attempts in a row made no progress. A connection that made progress starts the count over; one
   * that drops again at once keeps counting.
   */
  nextDelay(): number | undefined {
    if (this.committedSinceConnect || Date.now() - this.connectedAt > HEALTHY_CONNECTION_MS) this.backoff.reset();
    this.connecting();
    return this.backoff.next();
  }

  /** Runs `attempt` after `delayMs`, in place of an attempt still waiting. */
  schedule(delayMs: number, attempt: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      attempt();
    }, delayMs);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * The server is asked for a heartbeat every `periodMs` without events; a connection that delivers
 * nothing (no event, no heartbeat) for three periods while silence is not expected (it is paused,
 * or there is none) counts as dropped: `onSilence` gets an error shaped like a lost connection.
 */
export class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  private idleTicks = 0;
  /** Whether a packet arrived since the last tick; the first tick after start() counts as one. */
  private active = true;

  constructor(
    private readonly periodMs: number,
    private readonly silenceExpected: () => boolean,
    private readonly onSilence: (error: Error) => void,
  ) {}

  /** A packet arrived. */
  activity(): void {
    this.active = true;
  }

  start(): void {
    clearInterval(this.timer);
    this.active = true;
    this.idleTicks = 0;
    this.timer = setInterval(() => this.tick(), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const active = this.active;
    this.active = false;
    if (this.silenceExpected() || active) {
      this.idleTicks = 0;
      return;
    }
    this.idleTicks += 1;
    if (this.idleTicks >= 3) {
      this.idleTicks = 0;
      this.onSilence(Object.assign(new Error(`no event or heartbeat for ${3 * this.periodMs} ms`), { code: 'TUNNEL_HEARTBEAT_TIMEOUT' }));
    }
  }
}
