import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TaskRunner } from '../../core/runtime/task-runner.ts';
import { resolveConfig } from '../../core/config/index.ts';
import type { PositionStore, StoredPosition } from '../../core/checkpoint/index.ts';
import { FileDeadLetterStore } from '../../core/dead-letter/index.ts';
import { definePlugin } from '../../core/pipeline/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';
import type { TunnelPlugin } from '../../core/pipeline/index.ts';

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

function makeRunner(plugins: TunnelPlugin[], task: Record<string, unknown> = {}) {
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
    logger: silentLogger(),
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

describe('TaskRunner', () => {
  it('commits a position only after every sink acknowledged every event before it', async () => {
    const fast = new MemorySink();
    const slow = new MemorySink();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    slow.answer = async (batch) => {
      await gate;
      return batch.events.map(() => ({ status: 'ok' }));
    };
    const { runner, source, store } = makeRunner([memorySinkPlugin('fast', fast), memorySinkPlugin('slow', slow)]);
    await runner.start();
    source.transaction(100, [1, 2]);
    source.transaction(200, [3]);
    await until(() => fast.events.length === 3);
    await new Promise((r) => setTimeout(r, 30));
    expect(store.saved).toEqual([]);
    release();
    await until(() => store.saved.at(-1)?.position.offset === 200);
    expect(store.saved.map((s) => s.position.offset)).not.toContain(150);
    await runner.stop();
    expect(slow.events.map((e) => e.rows[0]![0]!.column === 'id' && (e.rows[0]![0] as { value: number }).value)).toEqual([1, 2, 3]);
  });

  it('retries from the first retryable event on, in order, and never commits past it meanwhile', async () => {
    const sink = new MemorySink();
    sink.answer = (batch, call) =>
      batch.events.map((_, i) => (call === 0 && i === 1 ? { status: 'retry', reason: '429 too many requests' } : { status: 'ok' }));
    const { runner, source, store } = makeRunner([memorySinkPlugin('s', sink)]);
    await runner.start();
    source.transaction(100, [1, 2, 3]);
    await until(() => store.saved.at(-1)?.position.offset === 100);
    const ids = sink.batches.map((b) => b.map((e) => (e.rows[0]![0] as { value: number }).value));
    // Event 3 landed on the first try but is sent again after 2, so 2 cannot overwrite it later.
    expect(ids).toEqual([
      [1, 2, 3],
      [2, 3],
    ]);
    expect(sink.attempts).toEqual([1, 2]);
    expect(runner.stats.sinks.s!.retries).toBe(1);
    await runner.stop();
  });

  it('dead-letters rejected events with their reason and moves the position on', async () => {
    const sink = new MemorySink();
    sink.answer = (batch) => batch.events.map((_, i) => (i === 0 ? { status: 'rejected', reason: 'mapper_parsing_exception' } : { status: 'ok' }));
    const { runner, source, store, dir } = makeRunner([memorySinkPlugin('s', sink)]);
    await runner.start();
    source.transaction(100, [1, 2]);
    await until(() => store.saved.at(-1)?.position.offset === 100);
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
    await until(() => store.saved.at(-1)?.position.offset === 200);
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
    await until(() => store.saved.at(-1)?.position.offset === 100);
    source.transaction(200, [2, 3]);
    const error = await failed;
    expect(error.message).toBe('plugin "boom" failed in hook "transform" of task "t1" at bin.000001:200: cannot map row');
    expect((error as { code?: string }).code).toBe('TUNNEL_ERR_PLUGIN');
    expect(store.saved.at(-1)!.position.offset).toBe(100);
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
    await until(() => store.saved.at(-1)?.position.offset === 100);
    await runner.stop();
    expect(sink.events.map((e) => (e.rows[0]![0] as { value: number }).value)).toEqual([1, 3]);
    const letters = await new FileDeadLetterStore(join(dir, 't1.jsonl')).list();
    expect(letters.map((l) => [l.origin, (l.event.rows[0]![0] as { value: number }).value])).toEqual([['plugin:boom', 2]]);
    expect(letters[0]!.reason).toContain('hook "filter"');
  });

  it('pauses the source at the in-flight cap and resumes below half of it', async () => {
    const sink = new MemorySink();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    sink.answer = async (batch) => {
      await gate;
      return batch.events.map(() => ({ status: 'ok' }));
    };
    const { runner, source } = makeRunner([memorySinkPlugin('s', sink)], { maxInFlightRows: 4 });
    await runner.start();
    source.transaction(100, [1, 2, 3, 4, 5]);
    expect(source.paused).toBe(true);
    release();
    await until(() => !source.paused);
    await runner.stop();
    expect(sink.events).toHaveLength(5);
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
