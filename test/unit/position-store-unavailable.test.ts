// A task whose positions cannot be stored (cluster: its ZooKeeper session is disconnected) hands its
// sinks nothing new and holds its source until they can: what it delivered meanwhile could not be
// committed, and the next owner would deliver it again. Our own interfaces only (a fake source, a
// memory sink, a position store whose availability the test switches).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskRunner } from '../../core/runtime/task-runner.ts';
import { WriteGate } from '../../core/runtime/write-gate.ts';
import { resolveConfig } from '../../core/config/index.ts';
import type { PositionStore, SaveAvailability, StoredPosition } from '../../core/checkpoint/index.ts';
import type { SchemaChangeEvent, TableName } from '../../core/event/index.ts';
import { AbortedError } from '../../core/errors/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A position store that can be switched off, like ZooKeeper while the session is disconnected. */
class SwitchableStore implements PositionStore {
  saved: StoredPosition[] = [];
  private up: boolean;
  private readonly listeners = new Set<(canSave: boolean) => void>();
  readonly availability: SaveAvailability;

  constructor(up = true) {
    this.up = up;
    const listeners = this.listeners;
    const isUp = () => this.up;
    this.availability = {
      get canSave() {
        return isUp();
      },
      onChange(listener) {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    };
  }

  set(up: boolean): void {
    this.up = up;
    for (const listener of [...this.listeners]) listener(up);
  }
  get subscribers(): number {
    return this.listeners.size;
  }
  async load() {
    return this.saved.at(-1);
  }
  /** Like ZooKeeperPositionStore's, a save while down waits until the store is up again. */
  async save(_task: string, stored: StoredPosition) {
    while (!this.up) await sleep(2);
    this.saved.push(stored);
  }
  async close() {}
}

function makeRunner(store: SwitchableStore, sink: MemorySink, resync?: (table: TableName) => Promise<number>) {
  const config = resolveConfig({
    tasks: [
      {
        name: 't1',
        source: { host: '127.0.0.1', user: 'u', serverId: 9 },
        plugins: [memorySinkPlugin('s', sink)],
        batch: { maxRows: 3, maxWaitMs: 5 },
        retry: { initialDelayMs: 1, maxDelayMs: 5 },
        commitIntervalMs: 5,
        schemaChanges: { alter: 'resync' },
      },
    ],
  });
  const source = new FakeSource();
  const runner = new TaskRunner(config.tasks[0]!, {
    positionStore: store,
    createSource: () => source,
    deadLetterDir: mkdtempSync(join(tmpdir(), 'tunnel-dl-')),
    logger: silentLogger(),
    ...(resync ? { resync: (_runner, table) => resync(table) } : {}),
  });
  return { runner, source };
}

const until = async (check: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
};
const ids = (sink: MemorySink) => sink.events.map((e) => (e.rows[0]![0] as { value: number }).value);

describe('positions that cannot be stored', () => {
  it('a task started while the store is down reads nothing and writes nothing until it is back', async () => {
    const store = new SwitchableStore(false);
    const sink = new MemorySink();
    const { runner, source } = makeRunner(store, sink);
    await runner.start();
    expect(source.paused).toBe(true);
    expect(runner.stats.positionStoreUnavailable).toBe(true);
    // events the source had read already (mysql2's queue) still arrive: they wait in the queue
    const commit100 = source.transaction(100, [1, 2]);
    await sleep(50);
    expect(sink.batches).toEqual([]);
    store.set(true);
    expect(source.paused).toBe(false);
    await until(() => store.saved.at(-1)?.position.offset === commit100.offset);
    expect(ids(sink)).toEqual([1, 2]);
    expect(runner.stats.positionStoreUnavailable).toBe(false);
    await runner.stop();
    expect(store.subscribers).toBe(0);
  });

  it('going down in the middle: the batch being written finishes, nothing after it is written, all of it after the store is back', async () => {
    const store = new SwitchableStore();
    const sink = new MemorySink();
    let releaseWrite!: () => void;
    let writing!: () => void;
    const inWrite = new Promise<void>((r) => (writing = r));
    sink.answer = async (batch, call) => {
      if (call === 1) {
        writing();
        await new Promise<void>((r) => (releaseWrite = r));
      }
      return batch.events.map(() => ({ status: 'ok' }));
    };
    const { runner, source } = makeRunner(store, sink);
    await runner.start();
    const commit100 = source.transaction(100, [1]);
    await until(() => store.saved.at(-1)?.position.offset === commit100.offset);
    source.transaction(200, [2]);
    await inWrite; // the second batch is on its way to the sink
    store.set(false);
    expect(source.paused).toBe(true);
    const commit300 = source.transaction(300, [3, 4]);
    releaseWrite();
    await sleep(50);
    expect(ids(sink)).toEqual([1, 2]); // the batch under way finished; 3 and 4 wait
    expect(store.saved.at(-1)!.position.offset).toBe(commit100.offset); // nothing could be stored meanwhile
    store.set(true);
    await until(() => store.saved.at(-1)?.position.offset === commit300.offset);
    expect(ids(sink)).toEqual([1, 2, 3, 4]);
    await runner.stop();
  });

  it('counts its hold beside a resync: the source resumes only when both are over', async () => {
    const store = new SwitchableStore();
    const sink = new MemorySink();
    let finishResync!: () => void;
    const { runner, source } = makeRunner(store, sink, () => new Promise<number>((r) => (finishResync = () => r(0))));
    await runner.start();
    const commit100 = source.transaction(100, [1]);
    await until(() => store.saved.at(-1)?.position.offset === commit100.offset);
    const alter: SchemaChangeEvent = {
      kind: 'schema',
      change: 'alter',
      schema: 'shop',
      table: 'orders',
      statement: 'ALTER TABLE orders ADD COLUMN c INT',
      position: { file: 'bin.000001', offset: 200 },
      timestamp: 1_700_000_000_200,
      index: 0,
    };
    source.handler!.onSchemaChange!(alter);
    source.handler!.onCommit(alter.position, alter.timestamp);
    expect(source.paused).toBe(true); // the resync holds it
    store.set(false);
    store.set(true); // the store's hold is over, the resync's is not
    expect(source.paused).toBe(true);
    store.set(false);
    finishResync(); // the resync's hold is over, the store's is not
    await sleep(20);
    expect(source.paused).toBe(true);
    store.set(true);
    expect(source.paused).toBe(false);
    await until(() => store.saved.at(-1)?.position.offset === 200);
    await runner.stop();
  });

  it('a graceful stop while the store is down does not wait for a drain that cannot happen', async () => {
    const store = new SwitchableStore();
    const sink = new MemorySink();
    const { runner, source } = makeRunner(store, sink);
    await runner.start();
    store.set(false);
    source.transaction(100, [1]);
    const started = Date.now();
    await runner.stop(5000);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(sink.batches).toEqual([]);
  });
});

describe('WriteGate', () => {
  it('lets waiters through when it opens, and rejects them when their signal aborts', async () => {
    const gate = new WriteGate();
    await gate.wait(new AbortController().signal); // open: at once
    gate.close(1000);
    expect(gate.closedForMs(1500)).toBe(500);
    const passed = gate.wait(new AbortController().signal);
    const aborter = new AbortController();
    const aborted = gate.wait(aborter.signal);
    aborter.abort();
    await expect(aborted).rejects.toBeInstanceOf(AbortedError);
    gate.open();
    await passed;
    expect(gate.isOpen).toBe(true);
    expect(gate.closedForMs()).toBe(0);
  });
});
