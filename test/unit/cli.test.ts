// The command line as a person meets it: versions, help, usage errors (exit 2 with a message), and
// `tunnel init`. Run from source (bin/tunnel.js); test/integration/team-repo.test.ts runs the build.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

async function tunnel(args: string[], cwd = root, env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, 'bin/tunnel.js'), ...args], { cwd, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('tunnel command line', () => {
  it('--version and -v print the package version', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await tunnel([flag]);
      expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
    }
  });

  it('--help lists every command; each command has its own help with its options', async () => {
    const overview = await tunnel(['--help']);
    expect(overview.code).toBe(0);
    for (const command of ['start', 'validate', 'status', 'positions', 'reset-position', 'snapshot', 'dead-letters', 'init']) {
      expect(overview.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    const deadLetters = await tunnel(['dead-letters', '--help']);
    expect(deadLetters.code).toBe(0);
    expect(deadLetters.stdout).toContain('Usage: tunnel dead-letters [options] [task]');
    expect(deadLetters.stdout).toContain('--limit <n>');
    expect(deadLetters.stdout).toContain('(env: TUNNEL_CONFIG)');
    expect(deadLetters.stdout).not.toContain('--tables');
    const help = await tunnel(['help', 'reset-position']);
    expect(help.stdout).toContain('--to <position>');
  });

  const usageErrors: Array<[string, string[], string]> = [
    ['a --limit that is not a number', ['dead-letters', '--limit', 'abc'], "option '--limit <n>' argument 'abc' is invalid. expected a positive integer."],
    ['a --limit of 0', ['dead-letters', '--limit', '0'], 'expected a positive integer'],
    ['an unknown command', ['strat'], "unknown command 'strat'"],
    ['an unknown option', ['validate', '--jsno'], "unknown option '--jsno'"],
    ['a missing task', ['snapshot'], "missing required argument 'task'"],
    ['reset-position without --to', ['reset-position', 'orders'], "required option '--to <position>' not specified"],
    ['a malformed position', ['reset-position', 'orders', '--to', 'binlog'], 'position must look like "<binlog file>:<offset>"'],
    ['a malformed table list', ['snapshot', 'orders', '--tables', 'orders'], 'expected schema.table names separated by commas'],
    ['an extra argument', ['positions', 'orders'], 'too many arguments'],
    ['no command at all', [], 'Usage: tunnel [options] [command]'],
  ];
  it.each(usageErrors)('%s is a usage error: exit 2 and a message on stderr', async (_name, args, message) => {
    const result = await tunnel(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stdout).toBe('');
  });

  it('a failing command (not a usage error) exits 1 with one clear line', async () => {
    const dir = tempDir('tunnel-cli-');
    const result = await tunnel(['validate'], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`no config file in ${dir} (looked for tunnel.config.ts, tunnel.config.mts, tunnel.config.js, tunnel.config.mjs)`);
    const named = await tunnel(['validate'], dir, { TUNNEL_CONFIG: 'elsewhere.ts' });
    expect(named.stderr).toContain(`config file not found: ${join(dir, 'elsewhere.ts')}`);
    expect((await tunnel(['validate', '-c', 'other.ts'], dir, { TUNNEL_CONFIG: 'elsewhere.ts' })).stderr).toContain(join(dir, 'other.ts'));
  });

  it('init writes a commented config and an example plugin, and refuses to overwrite either', async () => {
    const dir = tempDir('tunnel-init-');
    const first = await tunnel(['init'], dir);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('wrote tunnel.config.ts and plugins/keep-deleted-rows.ts');
    const config = readFileSync(join(dir, 'tunnel.config.ts'), 'utf8');
    expect(config).toContain("from 'tunnel'");
    expect(config).toContain("from './plugins/keep-deleted-rows.ts'");
    expect(config).toMatch(/^\/\/ /m);
    expect(readFileSync(join(dir, 'plugins/keep-deleted-rows.ts'), 'utf8')).toContain('hooks.filter.tap');

    writeFileSync(join(dir, 'tunnel.config.ts'), '// mine\n');
    const again = await tunnel(['init'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('tunnel.config.ts and plugins/keep-deleted-rows.ts exist already');
    expect(readFileSync(join(dir, 'tunnel.config.ts'), 'utf8')).toBe('// mine\n');

    const other = tempDir('tunnel-init-');
    writeFileSync(join(other, 'tunnel.config.ts'), '// mine\n');
    expect((await tunnel(['init'], other)).code).toBe(1);
    expect(existsSync(join(other, 'plugins'))).toBe(false);
  });
});
