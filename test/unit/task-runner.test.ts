import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { TaskRunner } from '../../core/runtime/task-runner.ts';
import { resolveConfig } from '../../core/config/index.ts';
import type { PositionStore, StoredPosition } from '../../core/checkpoint/index.ts';
import { FileDeadLetterStore } from '../../core/dead-letter/index.ts';
import { definePlugin } from '../../core/pipeline/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';
import type { TunnelPlugin } from '../../core/pipeline/index.ts';
import type { SchemaChangeEvent } from '../../core/event/index.ts';
import type { DeliveryResult } from '../../core/sink/index.ts';

class MemoryPositionStore implements PositionStore {
  saved: StoredPosition[] = [];
  async load() {
    return this.saved.at(-1);
  }
  async save(_task: string, stored: StoredPosition) {
    this.saved.push(stored);
  }
  async close() {}
}

function makeRunner(plugins: TunnelPlugin[], task: Record<string, unknown> = {}, logger: Logger = silentLogger()) {
  const config = resolveConfig({
    tasks: [
      {
        name: 't1',
        source: { host: '127.0.0.1', user: 'u', serverId: 9 },
        plugins,
        batch: { maxRows: 3, maxWaitMs: 5 },
        retry: { initialDelayMs: 1, maxDelayMs: 5 },
        commitIntervalMs: 5,
        ...task,
      },
    ],
  });
  const source = new FakeSource();
  const store = new MemoryPositionStore();
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-dl-'));
  const runner = new TaskRunner(config.tasks[0]!, {
    positionStore: store,
    createSource: () => source,
    deadLetterDir: dir,
    logger,
  });
  return { runner, source, store, dir };
}

const until = async (check: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
};

/** A promise and its resolver, to hold a sink call until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const idOf = (e: { rows: ReadonlyArray<ReadonlyArray<unknown>> }) => (e.rows[0]![0] as { value: number }).value;

describe('TaskRunner', () => {
  it('commits a position only after every sink acknowledged every event before it, and only commit positions', async () => {
    const fast = new MemorySink();
    const slow = new MemorySink();
    const held = [gate(), gate()];
    slow.answer = async (batch, call) => {
      await held[call]?.promise;
      return batch.events.map(() => ({ status: 'ok' }));
    };
    const { runner, source, store } = makeRunner([memorySinkPlugin('fast', fast), memorySinkPlugin('slow', slow)]);
    await runner.start();
    // rows events end at 110 and 120, the commit at 130
    expect(source.transaction(100, [1, 2])).toEqual({ file: 'bin.000001', offset: 130 });
    await until(() => fast.events.length === 2 && slow.batches.length === 1);
    await new Promise((r) => setTimeout(r, 30));
    // the fast sink has it all, the slow one nothing: nothing may be committed
    expect(store.saved).toEqual([]);
    held[0]!.open();
    await until(() => store.saved.at(-1)?.position.offset === 130);

    // the next transaction: its row event (210) is with the slow sink, the commit (220) read
    source.transaction(200, [3]);
    await until(() => fast.events.length === 3 && slow.batches.length === 2);
    await new Promise((r) => setTimeout(r, 30));
    expect(store.saved.at(-1)!.position.offset).toBe(130);
    held[1]!.open();
    await until(() => store.saved.at(-1)?.position.offset === 220);
    await runner.stop();
    expect(source.commitOffsets).toEqual([130, 220]);
    // every saved position is a transaction's commit, never a row event's own position (110, 120, 210)
    for (const saved of store.saved) expect(source.commitOffsets).toContain(saved.position.offset);
    expect(slow.events.map(idOf)).toEqual([1, 2, 3]);
  });

  it('retries from the first retryable event on, in order, and never commits past it meanwhile', async () => {
    const sink = new MemorySink();
    const retried = gate();
    sink.answer = async (batch, call) => {
      if (call === 1) await retried.promise;
      return batch.events.map((_, i) => (call === 0 && i === 1 ? { status: 'retry', reason: '429 too many requests' } : { status: 'ok' }));
    };
    const { runner, source, store } = makeRunner([memorySinkPlugin('s', sink)]);
    await runner.start();
    source.transaction(100, [1, 2, 3]); // commit at 140
    await until(() => sink.batches.length === 2);
    source.transaction(200, [4]); // commit at 220
    await new Promise((r) => setTimeout(r, 40));
    // event 2 is still being retried: neither transaction may be committed, though event 1 and 3 landed
    expect(store.saved).toEqual([]);
    retried.open();
    await until(() => store.saved.at(-1)?.position.offset === 220);
    const ids = sink.batches.map((b) => b.map(idOf));
    // Event 3 landed on the first try but is sent again after 2, so 2 cannot overwrite it later.
    expect(ids).toEqual([[1, 2, 3], [2, 3], [4]]);
    expect(sink.attempts).toEqual([1, 2, 1]);
    expect(runner.stats.sinks.s!.retries).toBe(1);
    for (const saved of store.saved) expect(source.commitOffsets).toContain(saved.position.offset);
    await runner.stop();
  });

  it('waits the backoff between retries: doubling from initialDelayMs, capped at maxDelayMs (full jitter)', async () => {
    const sink = new MemorySink();
    const calls: number[] = [];
    sink.answer = (batch, call) => {
      calls.push(performance.now());
      return batch.events.map(() => (call < 4 ? { status: 'retry', reason: 'HTTP 503' } : { status: 'ok' }));
    };
    const lines: Array<{ msg: string; delayMs?: number; attempt?: number }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    // the jitter draws the top of each window, so the delays are the window's ceilings
    const random = vi.spyOn(Math, 'random').mockReturnValue(1);
    try {
      const { runner, source, store } = makeRunner([memorySinkPlugin('s', sink)], { retry: { initialDelayMs: 40, maxDelayMs: 100 } }, logger);
      await runner.start();
      source.transaction(100, [1]);
      await until(() => store.saved.at(-1)?.position.offset === 120, 5000);
      await runner.stop();
    } finally {
      random.mockRestore();
    }
    const retries = lines.filter((l) => l.msg === 'sink write will be retried');
    expect(retries.map((l) => [l.attempt, l.delayMs])).toEqual([
      [1, 40],
      [2, 80],
      [3, 100],
      [4, 100],
    ]);
    // and the runtime really waited them before each new attempt (lower bounds: a busy machine only adds)
    const gaps = calls.slice(1).map((t, i) => t - calls[i]!);
    [40, 80, 100, 100].forEach((delay, i) => expect(gaps[i]).toBeGreaterThanOrEqual(delay - 2));
  });

  it("a schema change's commit waits until every sink applied it", async () => {
    const rows = new MemorySink();
    const applying = gate();
    const applied: string[] = [];
    const ddlSink = Object.assign(new MemorySink(), {
      async applySchemaChange(change: SchemaChangeEvent): Promise<DeliveryResult> {
        await applying.promise;
        applied.push(`${change.change} ${change.schema}.${change.table}`);
        return { status: 'ok' };
      },
    });
    const { runner, source, store } = makeRunner([memorySinkPlugin('rows', rows), memorySinkPlugin('ddl', ddlSink)]);
    await runner.start();
    source.transaction(100, [1]); // commit at 120
    await until(() => store.saved.at(-1)?.position.offset === 120);
    const statement = source.ddl(200); // TRUNCATE, its own transaction: commit at 210
    await new Promise((r) => setTimeout(r, 40));
    expect(applied).toEqual([]);
    expect(store.saved.at(-1)!.position.offset).toBe(120);
    applying.open();
    await until(() => store.saved.at(-1)?.position.offset === statement.offset);
    expect(applied).toEqual(['truncate shop.orders']);
    await runner.stop();
  });

  it('dead-letters rejected events with their reason and moves the position on', async () => {
    const sink = new MemorySink();
    sink.answer = (batch) => batch.events.map((_, i) => (i === 0 ? { status: 'rejected', reason: 'mapper_parsing_exception' } : { status: 'ok' }));
    const { runner, source, store, dir } = makeRunner([memorySinkPlugin('s', sink)]);
    await runner.start();
    source.transaction(100, [1, 2]);
    await until(() => store.saved.at(-1)?.position.offset === 130);
    await runner.stop();
    const letters = await new FileDeadLetterStore(join(dir, 't1.jsonl')).list();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ task: 't1', origin: 's', reason: 'mapper_parsing_exception' });
    expect(letters[0]!.event.rows[0]![0]).toEqual({ column: 'id', value: 1 });
  });

  it('filter (bail) drops, transform (waterfall) rewrites, and filtered transactions still commit', async () => {
    const sink = new MemorySink();
    const plugin = definePlugin({
      name: 'odd-only',
      apply(hooks) {
        hooks.filter.tap('odd-only', (event) => ((event.rows[0]![0] as { value: number }).value % 2 === 1 ? undefined : false));
        hooks.transform.tap('odd-only', (event) => ({ ...event, table: 'odd_orders' }));
      },
    });
    const { runner, source, store } = makeRunner([plugin, memorySinkPlugin('s', sink)]);
    await runner.start();
    source.transaction(100, [1, 2, 3]);
    source.transaction(200, [4]);
    await until(() => store.saved.at(-1)?.position.offset === 220);
    expect(sink.events.map((e) => [e.table, (e.rows[0]![0] as { value: number }).value])).toEqual([
      ['odd_orders', 1],
      ['odd_orders', 3],
    ]);
    await runner.stop();
  });

  it('a plugin that throws stops the task with an error naming plugin, hook, task and position', async () => {
    const sink = new MemorySink();
    const boom = definePlugin({
      name: 'boom',
      apply(hooks) {
        hooks.transform.tap('boom', (event) => {
          if ((event.rows[0]![0] as { value: number }).value === 2) throw new Error('cannot map row');
          return event;
        });
      },
    });
    const { runner, source, store } = makeRunner([boom, memorySinkPlugin('s', sink)]);
    await runner.start();
    const failed = new Promise<Error>((resolve) => runner.once('failed', resolve));
    source.transaction(100, [1]);
    await until(() => store.saved.at(-1)?.position.offset === 120);
    source.transaction(200, [2, 3]);
    const error = await failed;
    expect(error.message).toBe('plugin "boom" failed in hook "transform" of task "t1" at bin.000001:210: cannot map row');
    expect((error as { code?: string }).code).toBe('TUNNEL_ERR_PLUGIN');
    // the event's own position in the message; the saved position stays at the last commit before it
    expect(store.saved.at(-1)!.position.offset).toBe(120);
    expect(runner.stats.state).toBe('failed');
  });

  it('with onPluginError "dead-letter" the failing event is dead-lettered and the rest goes on', async () => {
    const sink = new MemorySink();
    const boom = definePlugin({
      name: 'boom',
      apply(hooks) {
        hooks.filter.tap('boom', (event) => {
          if ((event.rows[0]![0] as { value: number }).value === 2) throw new Error('bad row');
        });
      },
    });
    const { runner, source, store, dir } = makeRunner([boom, memorySinkPlugin('s', sink)], { onPluginError: 'dead-letter' });
    await runner.start();
    source.transaction(100, [1, 2, 3]);
    await until(() => store.saved.at(-1)?.position.offset === 140);
    await runner.stop();
    expect(sink.events.map((e) => (e.rows[0]![0] as { value: number }).value)).toEqual([1, 3]);
    const letters = await new FileDeadLetterStore(join(dir, 't1.jsonl')).list();
    expect(letters.map((l) => [l.origin, (l.event.rows[0]![0] as { value: number }).value])).toEqual([['plugin:boom', 2]]);
    expect(letters[0]!.reason).toContain('hook "filter"');
  });

  it('pauses the source at the in-flight cap, so in-flight rows never exceed it, and resumes below half of it', async () => {
    const sink = new MemorySink();
    sink.answer = async (batch) => {
      await new Promise((r) => setTimeout(r, 5));
      return batch.events.map(() => ({ status: 'ok' }));
    };
    const { runner, source, store } = makeRunner([memorySinkPlugin('s', sink)], { maxInFlightRows: 4 });
    await runner.start();
    const inFlightAtEvent: number[] = [];
    const inFlightAtResume: number[] = [];
    const handler = source.handler!;
    source.handler = {
      ...handler,
      onEvent: (event) => {
        handler.onEvent(event);
        inFlightAtEvent.push(runner.stats.inFlight);
      },
    };
    source.onResume = () => inFlightAtResume.push(runner.stats.inFlight);
    const ids = Array.from({ length: 40 }, (_, i) => i + 1);
    const commit = source.transaction(100, ids);
    // the cap reached at the 4th row: the source holds the rest back
    expect(source.emitted).toBe(4);
    expect(source.paused).toBe(true);
    await until(() => store.saved.at(-1)?.position.offset === commit.offset, 5000);
    await runner.stop();
    expect(sink.events.map(idOf)).toEqual(ids);
    // one sink, one row per event: in-flight deliveries are in-flight rows
    expect(Math.max(...inFlightAtEvent)).toBe(4);
    expect(source.pauses).toBeGreaterThan(2);
    expect(inFlightAtResume.length).toBeGreaterThan(2);
    for (const n of inFlightAtResume) expect(n).toBeLessThanOrEqual(2);
  });

  it('stops within its deadline when a sink never answers, aborting the write and committing nothing past it', async () => {
    const sink = new MemorySink();
    let aborted = false;
    sink.answer = (batch) =>
      new Promise((_, reject) =>
        batch.signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        }),
      );
    const { runner, source, store } = makeRunner([memorySinkPlugin('s', sink)]);
    await runner.start();
    source.transaction(100, [1]); // commit at 120, never acknowledged
    await until(() => sink.batches.length === 1);
    const started = performance.now();
    await runner.stop(300);
    const took = performance.now() - started;
    expect(aborted).toBe(true);
    expect(took).toBeGreaterThanOrEqual(295);
    expect(took).toBeLessThan(5000);
    expect(store.saved).toEqual([]);
    expect(runner.stats.state).toBe('stopped');
    expect(sink.closed).toBe(true);
  });

  it('routes by the route hook, and an unknown sink name fails the task clearly', async () => {
    const a = new MemorySink();
    const b = new MemorySink();
    const router = definePlugin({
      name: 'router',
      apply(hooks) {
        hooks.route.tap('router', (sinks, event) => ((event.rows[0]![0] as { value: number }).value === 9 ? ['nope'] : ['b']));
      },
    });
    const { runner, source } = makeRunner([memorySinkPlugin('a', a), memorySinkPlugin('b', b), router]);
    await runner.start();
    const failed = new Promise<Error>((resolve) => runner.once('failed', resolve));
    source.transaction(100, [1]);
    await until(() => b.events.length === 1);
    expect(a.events).toHaveLength(0);
    source.transaction(200, [9]);
    expect((await failed).message).toContain('routed to unknown sink "nope"; the sinks are a, b');
  });
});
