// The batch limits a sink runs with: the task's `batch` where the user set a field, else the sink's
// own (`batchLimits`, which the built-in sinks fill from their options), else the default.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { TaskRunner } from '../../core/runtime/task-runner.ts';
import type { PositionStore, StoredPosition } from '../../core/checkpoint/index.ts';
import type { BatchLimits } from '../../core/sink/index.ts';
import { FakeSource } from '../helpers/fake-source.ts';
import { MemorySink, memorySinkPlugin } from '../helpers/memory-sink.ts';

class LimitedSink extends MemorySink {
  constructor(readonly batchLimits: Partial<BatchLimits>) {
    super();
  }
}

const store: PositionStore = {
  load: async () => undefined,
  save: async (_task: string, _stored: StoredPosition) => undefined,
  close: async () => undefined,
};

/** Starts a task with one sink, sends `rows` one-row transactions at once, returns the batch sizes the sink got. */
async function batchSizes(sink: MemorySink, batch: Record<string, number> | undefined, rows = 12): Promise<number[]> {
  const config = resolveConfig({
    tasks: [{ name: 't', source: { host: '127.0.0.1', user: 'u', serverId: 9 }, plugins: [memorySinkPlugin('s', sink)], ...(batch ? { batch } : {}) }],
  });
  const source = new FakeSource();
  const runner = new TaskRunner(config.tasks[0]!, {
    positionStore: store,
    createSource: () => source,
    deadLetterDir: mkdtempSync(join(tmpdir(), 'tunnel-dl-')),
    logger: silentLogger(),
  });
  await runner.start();
  for (let i = 1; i <= rows; i++) source.transaction(100 * i, [i]);
  await runner.stop(2000);
  expect(sink.events).toHaveLength(rows);
  return sink.batches.map((b) => b.reduce((n, e) => n + e.rows.length, 0));
}

describe('batch limit precedence', () => {
  it("a sink's own batchLimits apply where the task's batch does not set the field", async () => {
    const sizes = await batchSizes(new LimitedSink({ maxRows: 2 }), undefined);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
  });

  it("the task's batch wins for the fields the user set", async () => {
    const sizes = await batchSizes(new LimitedSink({ maxRows: 2, maxWaitMs: 5000 }), { maxRows: 4, maxWaitMs: 10 });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(Math.max(...sizes)).toBeGreaterThan(2);
  });

  it('tunnel validate prints the limits each sink runs with', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const dir = mkdtempSync(join(tmpdir(), 'tunnel-batch-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const file = join(dir, 'tunnel.config.ts');
    writeFileSync(
      file,
      `import { defineConfig } from '${root}/core/index.ts';
import { redis } from '${root}/sinks/redis/index.ts';
import { webhook } from '${root}/sinks/http/index.ts';
export default defineConfig({
  tasks: [{
    name: 'a',
    source: { host: '127.0.0.1', user: 'u', serverId: 1 },
    batch: { maxWaitMs: 10 },
    plugins: [redis({ batch: { maxRows: 7 } }), webhook({ url: 'http://127.0.0.1:1/h', secret: 'a secret of sixteen chars' })],
  }],
});`,
    );
    const { stdout } = await promisify(execFile)('node', [join(root, 'bin/tunnel.js'), 'validate', '-c', file], { cwd: root });
    const printed = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { tasks: Array<{ batchLimits: Record<string, Record<string, number>> }> };
    expect(printed.tasks[0]!.batchLimits).toEqual({
      redis: { maxRows: 7, maxBytes: 8 * 1024 * 1024, maxWaitMs: 10 },
      webhook: { maxRows: 500, maxBytes: 4 * 1024 * 1024, maxWaitMs: 10 },
    });
  });
});
