// The traps of the plugin API a plugin author could fall into, each checked where a user would see
// it: what reaches the sink, what position is committed, what error the task reports.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TaskRunner } from '../../core/runtime/task-runner.ts';
import { resolveConfig } from '../../core/config/index.ts';
import type { PositionStore, StoredPosition } from '../../core/checkpoint/index.ts';
import { FileDeadLetterStore } from '../../core/dead-letter/index.ts';
import { applyPlugins, definePlugin, type TunnelPlugin } from '../../core/pipeline/index.ts';
import { ConfigError, PluginError } from '../../core/errors/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { routeTables } from '../../plugins/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';

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

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function makeRunner(plugins: TunnelPlugin[], task: Record<string, unknown> = {}) {
  const config = resolveConfig({
    tasks: [
      {
        name: 't1',
        source: { host: '127.0.0.1', user: 'u', serverId: 9 },
        plugins,
        retry: { initialDelayMs: 1, maxDelayMs: 5 },
        commitIntervalMs: 5,
        ...task,
      },
    ],
  });
  const source = new FakeSource();
  const store = new MemoryPositionStore();
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-plugin-api-'));
  dirs.push(dir);
  const runner = new TaskRunner(config.tasks[0]!, { positionStore: store, createSource: () => source, deadLetterDir: dir, logger: silentLogger() });
  return { runner, source, store, dir };
}

const until = async (check: () => boolean, what: string, ms = 3000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not in ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
};

const idOf = (event: { rows: readonly (readonly unknown[])[] }) => (event.rows[0]![0] as { value: number }).value;

describe('plugin API: filters', () => {
  it('a filter returning true keeps the event and the later filters still run; only false drops', async () => {
    const sink = new MemorySink();
    const seenBySecond: number[] = [];
    const keepAll = definePlugin({ name: 'keep-all', apply: (hooks) => hooks.filter.tap('keep-all', () => true) });
    const dropEven = definePlugin({
      name: 'drop-even',
      apply: (hooks) =>
        hooks.filter.tap('drop-even', (event) => {
          seenBySecond.push(idOf(event));
          return idOf(event) % 2 === 1;
        }),
    });
    const { runner, source, store } = makeRunner([keepAll, dropEven, memorySinkPlugin('s', sink)]);
    await runner.start();
    const commit100 = source.transaction(100, [1, 2, 3, 4]);
    await until(() => store.saved.at(-1)?.position.offset === commit100.offset, 'the commit of transaction 100 stored');
    await runner.stop();
    expect(seenBySecond).toEqual([1, 2, 3, 4]);
    expect(sink.events.map(idOf)).toEqual([1, 3]);
    expect(runner.stats.eventsFiltered).toBe(2);
  });
});

describe('plugin API: async taps', () => {
  const apply = (plugin: TunnelPlugin) => applyPlugins('t1', [plugin], silentLogger()).hooks;

  it('a tapPromise rejection is a PluginError naming the plugin, the hook and the task', async () => {
    const hooks = apply(
      definePlugin({
        name: 'warm-cache',
        apply: (h) => h.taskStart.tapPromise('warm-cache', () => Promise.reject(new Error('cache server down'))),
      }),
    );
    const error = await hooks.taskStart.promise({ task: 't1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PluginError);
    expect(error).toMatchObject({ plugin: 'warm-cache', hook: 'taskStart', task: 't1', code: 'TUNNEL_ERR_PLUGIN' });
    expect((error as Error).message).toBe('plugin "warm-cache" failed in hook "taskStart" of task "t1": cache server down');
  });

  it('a tapPromise that throws before returning a promise is a PluginError too', async () => {
    const hooks = apply(
      definePlugin({
        name: 'eager',
        apply: (h) =>
          h.taskStop.tapPromise('eager', () => {
            throw new TypeError('not a function');
          }),
      }),
    );
    await expect(hooks.taskStop.promise({ task: 't1' })).rejects.toMatchObject({ plugin: 'eager', hook: 'taskStop', code: 'TUNNEL_ERR_PLUGIN' });
  });

  it('a tapAsync callback error is a PluginError, and its result still flows on success', async () => {
    const failing = apply(
      definePlugin({
        name: 'callback-style',
        apply: (h) => h.taskStart.tapAsync('callback-style', (_info, done) => setImmediate(() => done(new Error('no route to host')))),
      }),
    );
    await expect(failing.taskStart.promise({ task: 't1' })).rejects.toMatchObject({ plugin: 'callback-style', hook: 'taskStart' });
    let ran = false;
    const passing = apply(
      definePlugin({
        name: 'callback-ok',
        apply: (h) =>
          h.taskStart.tapAsync('callback-ok', (_info, done) =>
            setImmediate(() => {
              ran = true;
              done();
            }),
          ),
      }),
    );
    await passing.taskStart.promise({ task: 't1' });
    expect(ran).toBe(true);
  });

  it('a task whose taskStart tap rejects fails to start with that PluginError', async () => {
    const sink = new MemorySink();
    const plugin = definePlugin({ name: 'gate', apply: (h) => h.taskStart.tapPromise('gate', async () => Promise.reject(new Error('closed'))) });
    const { runner } = makeRunner([plugin, memorySinkPlugin('s', sink)]);
    await expect(runner.start()).rejects.toMatchObject({ plugin: 'gate', hook: 'taskStart', code: 'TUNNEL_ERR_PLUGIN' });
  });
});

describe('plugin API: a throwing error tap', () => {
  const throwingAlerts = definePlugin({
    name: 'alerts',
    apply: (hooks) =>
      hooks.error.tap('alerts', () => {
        throw new Error('pager service unreachable');
      }),
  });

  it('does not leave a retried batch unsettled: every event arrives and the position is committed', async () => {
    const sink = new MemorySink();
    sink.answer = (batch, call) => batch.events.map(() => (call === 0 ? { status: 'retry', reason: 'HTTP 503' } : { status: 'ok' }));
    const { runner, source, store } = makeRunner([throwingAlerts, memorySinkPlugin('s', sink)]);
    await runner.start();
    const commit100 = source.transaction(100, [1, 2]);
    await until(() => store.saved.at(-1)?.position.offset === commit100.offset, 'the commit of transaction 100 stored after the retry');
    const commit200 = source.transaction(200, [3]);
    await until(() => store.saved.at(-1)?.position.offset === commit200.offset, 'the commit of transaction 200 stored');
    await runner.stop();
    expect(sink.attempts[0]).toBe(1);
    expect(sink.attempts[1]).toBe(2);
    expect([...new Set(sink.events.map(idOf))]).toEqual([1, 2, 3]);
    expect(runner.stats.state).toBe('stopped');
  });

  it('does not stop a dead-lettered plugin failure from being stored and committed past', async () => {
    const sink = new MemorySink();
    const failOnTwo = definePlugin({
      name: 'fail-on-2',
      apply: (hooks) =>
        hooks.transform.tap('fail-on-2', (event) => {
          if (idOf(event) === 2) throw new Error('cannot map row 2');
          return event;
        }),
    });
    const { runner, source, store, dir } = makeRunner([throwingAlerts, failOnTwo, memorySinkPlugin('s', sink)], { onPluginError: 'dead-letter' });
    await runner.start();
    const commit100 = source.transaction(100, [1, 2, 3]);
    await until(() => store.saved.at(-1)?.position.offset === commit100.offset, 'the commit of transaction 100 stored');
    await runner.stop();
    expect(sink.events.map(idOf)).toEqual([1, 3]);
    const letters = await new FileDeadLetterStore(join(dir, 't1.jsonl')).list();
    expect(letters.map((l) => [l.origin, idOf(l.event)])).toEqual([['plugin:fail-on-2', 2]]);
  });

  it('does not keep a failing task from stopping: it ends failed, with what was acknowledged committed', async () => {
    const sink = new MemorySink();
    const failOnTwo = definePlugin({
      name: 'fail-on-2',
      apply: (hooks) =>
        hooks.filter.tap('fail-on-2', (event) => {
          if (idOf(event) === 2) throw new Error('bad row');
        }),
    });
    const { runner, source, store } = makeRunner([throwingAlerts, failOnTwo, memorySinkPlugin('s', sink)]);
    await runner.start();
    const failed = new Promise<Error>((resolve) => runner.once('failed', resolve));
    const commit100 = source.transaction(100, [1]);
    await until(() => store.saved.at(-1)?.position.offset === commit100.offset, 'the commit of transaction 100 stored');
    source.transaction(200, [2]);
    expect((await failed).message).toContain('plugin "fail-on-2" failed in hook "filter"');
    expect(runner.stats.state).toBe('failed');
    expect(store.saved.at(-1)?.position.offset).toBe(commit100.offset);
  });
});

describe('plugin API: sink names a plugin refers to', () => {
  const sinks = [memorySinkPlugin('search', new MemorySink()), memorySinkPlugin('cache', new MemorySink())];

  it('routeTables naming a sink nobody registers fails when the plugins are applied, before any event', () => {
    const route = routeTables({
      rules: [
        { tables: ['shop.orders'], sinks: ['search'] },
        { tables: ['shop.users'], sinks: ['cach'] },
      ],
    });
    const apply = () => applyPlugins('shop', [...sinks, route], silentLogger(), { configPath: 'tasks[0]' });
    expect(apply).toThrow(ConfigError);
    expect(apply).toThrow('tasks[0].plugins[2] (route-tables) rules[1].sinks names "cach", which no plugin registers as a sink; the sinks are search, cache');
  });

  it('the check waits for every plugin: a route before the sinks it names is fine', () => {
    const route = routeTables({ rules: [{ tables: ['shop.users'], sinks: ['cache'] }], otherwise: ['search'] });
    expect([...applyPlugins('shop', [route, ...sinks], silentLogger()).sinks.keys()]).toEqual(['search', 'cache']);
    const wrongOtherwise = routeTables({ rules: [{ tables: ['shop.users'], sinks: ['cache'] }], otherwise: ['archive'] });
    expect(() => applyPlugins('shop', [wrongOtherwise, ...sinks], silentLogger())).toThrow(
      'task "shop": plugins[0] (route-tables) otherwise names "archive", which no plugin registers as a sink',
    );
  });

  it('a task with such a route refuses to be created (tunnel start fails at once)', () => {
    const route = routeTables({ rules: [{ tables: ['shop.*'], sinks: ['archive'] }] });
    expect(() => makeRunner([memorySinkPlugin('s', new MemorySink()), route])).toThrow(/rules\[0\]\.sinks names "archive"/);
  });
});
