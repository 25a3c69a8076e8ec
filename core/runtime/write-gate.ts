/**
 * The gate a task's sink writes pass through: closed while the task's positions cannot be stored
 * (its ZooKeeper session is disconnected), so that nothing new reaches a sink that the next owner
 * would have to deliver again. A write waits at a closed gate and goes on the moment it opens; a
 * write already under way finishes.
 */
import type { SaveAvailability } from '../checkpoint/index.ts';
import { AbortedError } from '../errors/index.ts';

export class WriteGate {
  private closedSince: number | undefined;
  private readonly waiters = new Set<() => void>();

  get isOpen(): boolean {
    return this.closedSince === undefined;
  }

  /** Milliseconds since the gate closed; 0 while it is open. */
  closedForMs(now = Date.now()): number {
    return this.closedSince === undefined ? 0 : now - this.closedSince;
  }

  close(now = Date.now()): void {
    this.closedSince ??= now;
  }

  open(): void {
    if (this.closedSince === undefined) return;
    this.closedSince = undefined;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }

  /**
   * Closes while `availability` says positions cannot be saved and opens when they can, calling
   * `closed` / `opened` (with how long it was closed) on each change; returns the unsubscribe function.
   */
  follow(availability: SaveAvailability, on: { closed(): void; opened(closedMs: number): void }): () => void {
    const apply = (canSave: boolean) => {
      if (canSave && !this.isOpen) {
        const closedMs = this.closedForMs();
        this.open();
        on.opened(closedMs);
      } else if (!canSave && this.isOpen) {
        this.close();
        on.closed();
      }
    };
    const unsubscribe = availability.onChange(apply);
    apply(availability.canSave);
    return unsubscribe;
  }

  /** Resolves at once while open, else when the gate opens; rejects with AbortedError on `signal`. */
  wait(signal: AbortSignal): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (signal.aborted) return Promise.reject(new AbortedError('write gate: aborted'));
    return new Promise((resolve, reject) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters.delete(wake);
        reject(new AbortedError('write gate: aborted'));
      };
      this.waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
