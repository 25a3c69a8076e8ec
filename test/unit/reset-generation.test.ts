import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { resetTarget } from '../../core/cli/reset-generation.ts';
import { ConfigError } from '../../core/errors/index.ts';

describe('reset-position and the generation of positions', () => {
  const stored = { file: 'mariadb-bin.000040', offset: 900, generation: 2 };

  it('keeps the stored generation for a position later in the same history', () => {
    expect(resetTarget(stored, { file: 'mariadb-bin.000041', offset: 4 }, {})).toEqual({ file: 'mariadb-bin.000041', offset: 4, generation: 2 });
    expect(resetTarget(undefined, { file: 'mariadb-bin.000001', offset: 4 }, {})).toEqual({ file: 'mariadb-bin.000001', offset: 4 });
  });

  it('refuses a position before the stored one unless it is a rewind or a new history', () => {
    const earlier = { file: 'mariadb-bin.000040', offset: 100 };
    expect(() => resetTarget(stored, earlier, {})).toThrow(ConfigError);
    expect(() => resetTarget(stored, earlier, {})).toThrow(/is before the stored position mariadb-bin.000040:900: add --rewind .* or --new-history/);
    expect(resetTarget(stored, earlier, { rewind: true })).toEqual({ file: 'mariadb-bin.000040', offset: 100, generation: 2 });
    // another server's binlog (or this one after RESET MASTER): the next generation orders after everything before
    expect(resetTarget(stored, { file: 'replica-bin.000003', offset: 4 }, { newHistory: true })).toEqual({
      file: 'replica-bin.000003',
      offset: 4,
      generation: 3,
    });
    expect(() => resetTarget(stored, earlier, { rewind: true, newHistory: true })).toThrow(/choose one/);
  });

  it('takes a generation written in the position as given', () => {
    expect(resetTarget(stored, { file: 'b.000001', offset: 4, generation: 7 }, {})).toEqual({ file: 'b.000001', offset: 4, generation: 7 });
  });
});

describe('tunnel reset-position (standalone position files)', () => {
  const run = promisify(execFile);
  const root = resolve(import.meta.dirname, '../..');
  const dir = mkdtempSync(join(tmpdir(), 'tunnel-reset-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const config = join(dir, 'tunnel.config.ts');
  writeFileSync(
    config,
    `import { defineConfig } from '${root}/core/index.ts';
const sink = { name: 'mem', apply: (_h: any, ctx: any) => ctx.registerSink('mem', { write: async (b: any) => b.events.map(() => ({ status: 'ok' })), close: async () => {} }) };
export default defineConfig({ status: { port: false }, positions: { dir: '${dir}/positions' }, tasks: [{ name: 't', source: { host: '127.0.0.1', user: 'tunnel', serverId: 101 }, plugins: [sink] }] });
`,
  );
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run('node', [join(root, 'bin/tunnel.js'), 'reset-position', 't', ...args, '-c', config], { cwd: root });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const stored = () => JSON.parse(readFileSync(join(dir, 'positions', 't.json'), 'utf8')) as { position: unknown };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the generation, refuses an earlier position without --rewind, and starts a new history with --new-history', async () => {
    mkdirSync(join(dir, 'positions'), { recursive: true });
    writeFileSync(join(dir, 'positions', 't.json'), JSON.stringify({ position: { file: 'mariadb-bin.000040', offset: 900, generation: 2 }, updatedAt: 1 }));
    const refused = await cli('--to', 'mariadb-bin.000040:100');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is before the stored position .* add --rewind/);
    expect(stored().position).toEqual({ file: 'mariadb-bin.000040', offset: 900, generation: 2 });
    expect(await cli('--to', 'mariadb-bin.000040:100', '--rewind')).toMatchObject({
      code: 0,
      stdout: 'task "t" will resume after mariadb-bin.000040:100 (generation 2)\n',
    });
    expect(stored().position).toEqual({ file: 'mariadb-bin.000040', offset: 100, generation: 2 });
    expect((await cli('--to', 'replica-bin.000001:4', '--new-history')).code).toBe(0);
    expect(stored().position).toEqual({ file: 'replica-bin.000001', offset: 4, generation: 3 });
    const removed = await cli('--to', 'none');
    expect(removed.code).toBe(0);
    expect(removed.stderr).toMatch(/the removed position was of generation 3/);
  }, 60_000);
});
