import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling, backoffDelay } from '../../core/runtime/backoff.ts';

const options = { initialDelayMs: 100, maxDelayMs: 30_000 };

describe('retry backoff (exponential, full jitter)', () => {
  it('doubles the upper bound per retry from initialDelayMs, capped at maxDelayMs', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffCeiling(n, options))).toEqual([100, 200, 400, 800, 1600]);
    expect(backoffCeiling(9, options)).toBe(25_600);
    expect(backoffCeiling(10, options)).toBe(30_000);
    expect(backoffCeiling(1_000, options)).toBe(30_000);
  });

  it('draws the delay uniformly from 0 to the upper bound (full jitter)', () => {
    expect(backoffDelay(4, options, () => 0)).toBe(0);
    expect(backoffDelay(4, options, () => 0.25)).toBe(200);
    expect(backoffDelay(4, options, () => 1)).toBe(800);
    // With Math.random: every delay within [0, 800], and the lower half of the window is used too
    // (an "equal jitter" scheme never goes below 400).
    const delays = Array.from({ length: 2_000 }, () => backoffDelay(4, options));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(800);
    expect(delays.filter((d) => d < 400).length).toBeGreaterThan(800);
    expect(delays.filter((d) => d < 100).length).toBeGreaterThan(100);
  });

  it('counts retries, starts over on reset and gives up after maxAttempts', () => {
    const backoff = new Backoff({ initialDelayMs: 10, maxDelayMs: 40, maxAttempts: 3 }, () => 1);
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([10, 20, 40, undefined]);
    expect(backoff.retries).toBe(3);
    backoff.reset();
    expect(backoff.next()).toBe(10);
    const unbounded = new Backoff({ initialDelayMs: 10, maxDelayMs: 40 }, () => 1);
    for (let i = 0; i < 100; i++) expect(unbounded.next()).toBeLessThanOrEqual(40);
  });
});
