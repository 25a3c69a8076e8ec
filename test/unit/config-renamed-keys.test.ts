// Keys renamed to say what they count keep working under their old names, with one deprecation
// warning per old key naming the new one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/config/index.ts';
import { batchLimitsFor } from '../../core/runtime/batch-limits.ts';
import { webhook } from '../../sinks/http/index.ts';

const source = { host: '127.0.0.1', user: 'u', serverId: 1 };
const plugin = { name: 'p', apply() {} };

let warnings: Array<{ name: string; code?: string; message: string }> = [];
const listener = (warning: Error & { code?: string }) => warnings.push({ name: warning.name, code: warning.code, message: warning.message });
beforeEach(() => {
  warnings = [];
  process.on('warning', listener);
});
afterEach(() => {
  process.off('warning', listener);
});
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('renamed config keys', () => {
  it('batch.maxEvents and maxInFlightEvents still set maxRows and maxInFlightRows, with one warning each naming the new key', async () => {
    const task = (name: string) => ({ name, source, plugins: [plugin], batch: { maxEvents: 300 }, maxInFlightEvents: 4000 });
    const config = resolveConfig({ tasks: [task('a'), task('b')] });
    expect(config.tasks[0]!.batch).toEqual({ maxRows: 300 });
    expect(config.tasks[1]!.maxInFlightRows).toBe(4000);
    expect(config.tasks[0]).not.toHaveProperty('maxInFlightEvents');
    resolveConfig({ tasks: [task('c')] });
    await settle();
    expect(warnings.map((w) => [w.name, w.code])).toEqual([
      ['DeprecationWarning', 'TUNNEL_DEP_RENAMED_KEY'],
      ['DeprecationWarning', 'TUNNEL_DEP_RENAMED_KEY'],
    ]);
    expect(warnings.map((w) => w.message)).toEqual([
      '`batch.maxEvents` is deprecated: write `batch.maxRows` instead (it counts row changes); the old name still works',
      '`maxInFlightEvents` is deprecated: write `maxInFlightRows` instead (it counts row changes); the old name still works',
    ]);
  });

  it("a sink's batch option and batchLimits take the old name too", async () => {
    const sink = webhook({ url: 'http://127.0.0.1:1/', secret: 'a secret of sixteen chars', batch: { maxEvents: 9 } }).sink;
    expect(sink.batchLimits.maxRows).toBe(9);
    expect(batchLimitsFor({}, { batchLimits: { maxEvents: 11 } }).maxRows).toBe(11);
    await settle();
    expect(warnings.map((w) => w.message)).toEqual([
      '`batchLimits.maxEvents` is deprecated: write `batchLimits.maxRows` instead (it counts row changes); the old name still works',
    ]);
  });

  it('the new names work without a warning, and a conflict of old and new is a field error', async () => {
    const config = resolveConfig({ tasks: [{ name: 'a', source, plugins: [plugin], batch: { maxRows: 5 }, maxInFlightRows: 10 }] });
    expect(config.tasks[0]!.batch.maxRows).toBe(5);
    expect(config.tasks[0]!.maxInFlightRows).toBe(10);
    expect(resolveConfig({ tasks: [{ name: 'a', source, plugins: [plugin] }] }).tasks[0]!.maxInFlightRows).toBe(20_000);
    await settle();
    expect(warnings).toEqual([]);
    expect(() => resolveConfig({ tasks: [{ name: 'a', source, plugins: [plugin], batch: { maxRows: 5, maxEvents: 6 } }] })).toThrow(
      'tasks[0].batch.maxEvents: the old name of `maxRows`, which is given too: keep only `maxRows`, got 6',
    );
  });
});
