/**
 * Whether the ZooKeeper position store can save now (core/checkpoint's SaveAvailability): not while
 * the session is disconnected, and not while a save has gone unanswered for `stalledSaveMs`. The
 * second covers what the connection state shows late: a server that stops answering before it closes
 * its connections (a shutting-down server, a partition, which the client notices only after 2/3 of
 * the session timeout). A save on loopback or in a data centre takes milliseconds; one that takes
 * hundreds is a server that cannot store positions now, and a task that went on delivering meanwhile
 * would have all of it delivered again after a failover.
 */
import type { SaveAvailability } from '../checkpoint/position-store.ts';
import type { SessionState } from './zk-protocol.ts';

/** What this needs of the ZooKeeper connection (ZkConnection). */
export interface SessionStateSource {
  readonly state: SessionState;
  on(event: 'state', listener: (state: SessionState) => void): unknown;
}

export const DEFAULT_STALLED_SAVE_MS = 250;

export class ZooKeeperSaveAvailability implements SaveAvailability {
  private readonly listeners = new Set<(canSave: boolean) => void>();
  /** Saves outstanding for longer than stalledSaveMs. */
  private stalledSaves = 0;
  private last: boolean;

  constructor(
    private readonly zk: SessionStateSource,
    private readonly stalledSaveMs = DEFAULT_STALLED_SAVE_MS,
  ) {
    this.last = this.canSave;
    zk.on('state', () => this.refresh());
  }

  get canSave(): boolean {
    return this.zk.state === 'connected' && this.stalledSaves === 0;
  }

  onChange(listener: (canSave: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Counts `save` as stalled from stalledSaveMs after now until it settles; returns it. */
  track<T>(save: Promise<T>): Promise<T> {
    let stalled = false;
    const timer = setTimeout(() => {
      stalled = true;
      this.stalledSaves++;
      this.refresh();
    }, this.stalledSaveMs);
    timer.unref();
    const settled = () => {
      clearTimeout(timer);
      if (!stalled) return;
      this.stalledSaves--;
      this.refresh();
    };
    save.then(settled, settled);
    return save;
  }

  private refresh(): void {
    const now = this.canSave;
    if (now === this.last) return;
    this.last = now;
    for (const listener of [...this.listeners]) listener(now);
  }
}
