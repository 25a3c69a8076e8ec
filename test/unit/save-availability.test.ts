// The ZooKeeper position store's availability: no saves while the session is disconnected, nor while
// a save goes unanswered past stalledSaveMs (a server that stopped answering before it closed the
// connection). The connection is a fake of our own interface.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ZooKeeperSaveAvailability } from '../../core/cluster/save-availability.ts';
import type { SessionState } from '../../core/cluster/index.ts';

class FakeSession extends EventEmitter<{ state: [SessionState] }> {
  state: SessionState = 'connected';
  set(state: SessionState): void {
    this.state = state;
    this.emit('state', state);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ZooKeeperSaveAvailability', () => {
  it('follows the session: no saves while disconnected or expired, saves again once connected', () => {
    const session = new FakeSession();
    const availability = new ZooKeeperSaveAvailability(session, 50);
    const changes: boolean[] = [];
    availability.onChange((canSave) => changes.push(canSave));
    expect(availability.canSave).toBe(true);
    session.set('disconnected');
    expect(availability.canSave).toBe(false);
    session.set('expired');
    session.set('connected');
    expect(availability.canSave).toBe(true);
    expect(changes).toEqual([false, true]); // one change each way, none for disconnected → expired
  });

  it('a save unanswered past stalledSaveMs makes saves impossible until it settles', async () => {
    const session = new FakeSession();
    const availability = new ZooKeeperSaveAvailability(session, 30);
    const changes: boolean[] = [];
    const unsubscribe = availability.onChange((canSave) => changes.push(canSave));
    await availability.track(sleep(5)); // a quick save changes nothing
    expect(changes).toEqual([]);
    let answer!: () => void;
    const slow = availability.track(new Promise<void>((r) => (answer = r)));
    await sleep(60);
    expect(availability.canSave).toBe(false);
    expect(changes).toEqual([false]);
    answer();
    await slow;
    expect(availability.canSave).toBe(true);
    expect(changes).toEqual([false, true]);
    // a failed save counts as answered too
    const failing = availability.track(sleep(60).then(() => Promise.reject(new Error('CONNECTION_LOSS'))));
    await expect(failing).rejects.toThrow('CONNECTION_LOSS');
    expect(availability.canSave).toBe(true);
    expect(changes).toEqual([false, true, false, true]);
    unsubscribe();
    session.set('disconnected');
    expect(changes).toHaveLength(4);
  });
});
