import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'tunnel-config-'));
writeFileSync(join(dir, 'package.json'), '{"type":"module"}');

const header = `
import { defineConfig } from '${root}/core/index.ts';
import { routeTables } from '${root}/plugins/index.ts';
const sink = { name: 'mem', apply: (_h: any, ctx: any) => ctx.registerSink('mem', { write: async (b: any) => b.events.map(() => ({ status: 'ok' })), close: async () => {} }) };
const source = { host: '127.0.0.1', user: 'tunnel', serverId: 101 };
`;

async function validate(body: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, header + body);
  try {
    const { stdout, stderr } = await run('node', [join(root, 'bin/tunnel.js'), 'validate', '-c', file], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const cases: Array<[string, string, string]> = [
  [
    'wrong type',
    `export default defineConfig({ tasks: [{ name: 'a', source: { ...source, port: 'abc' as any }, plugins: [sink] }] });`,
    'tasks[0].source.port: expected number, got "abc"',
  ],
  [
    'missing host',
    `export default defineConfig({ tasks: [{ name: 'a', source: { user: 'u', serverId: 1 } as any, plugins: [sink] }] });`,
    'tasks[0].source.host: missing, expected string, or `hosts` (several servers)',
  ],
  [
    'duplicate task name',
    `export default defineConfig({ tasks: [{ name: 'a', source, plugins: [sink] }, { name: 'a', source, plugins: [sink] }] });`,
    'tasks[1].name: duplicate task name "a" (also tasks[0].name)',
  ],
  [
    'plugin without apply',
    `export default defineConfig({ tasks: [{ name: 'a', source, plugins: [sink, { name: 'broken' } as any] }] });`,
    'tasks[0].plugins[1]: expected a plugin: an object with a non-empty string `name` and an `apply(hooks, context)` function, got an object named "broken"',
  ],
  ['unknown field', `export default defineConfig({ tasks: [{ name: 'a', source, plugins: [sink], batchs: {} } as any] });`, 'tasks[0].batchs: unknown field'],
  [
    'unknown dead-letter sink',
    `export default defineConfig({ tasks: [{ name: 'a', source, plugins: [sink], deadLetter: { type: 'sink', sink: 'archive' } }] });`,
    'tasks[0].deadLetter.sink: unknown sink "archive"; the sinks are mem',
  ],
  [
    'route to an unknown sink',
    `export default defineConfig({ tasks: [{ name: 'a', source, plugins: [sink, routeTables({ rules: [{ tables: ['shop.*'], sinks: ['archive'] }] })] }] });`,
    'tasks[0].plugins[1] (route-tables) rules[0].sinks names "archive", which no plugin registers as a sink; the sinks are mem',
  ],
  ['no sink', `export default defineConfig({ tasks: [{ name: 'a', source, plugins: [] }] });`, 'tasks[0].plugins: task "a" registers no sink'],
  [
    'bad enum',
    `export default defineConfig({ tasks: [{ name: 'a', source, plugins: [sink], onPluginError: 'ignore' as any }] });`,
    'tasks[0].onPluginError: expected one of "stop", "dead-letter", got "ignore"',
  ],
  [
    'bad startFrom',
    `export default defineConfig({ tasks: [{ name: 'a', source: { ...source, startFrom: 'yesterday' as any }, plugins: [sink] }] });`,
    'tasks[0].source.startFrom: expected "latest" or "earliest" or object, got "yesterday"',
  ],
  ['no tasks', `export default defineConfig({ tasks: [] });`, 'tasks: expected at least one task, got an array of 0'],
  ['no default export', `export const config = 1;`, 'has no default export'],
  [
    'zookeeper without connect',
    `export default defineConfig({ cluster: { zookeeper: {} as any }, tasks: [{ name: 'a', source, plugins: [sink] }] });`,
    'cluster.zookeeper.connect: missing, expected string',
  ],
];

describe('tunnel validate', () => {
  it.each(cases)('%s: one clear message, non-zero exit, no stack trace', async (_name, body, message) => {
    const result = await validate(body);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints the resolved pipelines of a good config with secrets redacted', async () => {
    const result = await validate(
      `export default defineConfig({ tasks: [{ name: 'a', source: { ...source, password: 'hunter2-secret' }, plugins: [sink] }] });`,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"sinks": [\n        "mem"\n      ]');
    expect(result.stdout).toContain('"maxRows": 2000');
    expect(result.stdout).not.toContain('hunter2-secret');
  });
});
