// Tunnel used the way a team uses it: `npm pack` of this repository installed into a fresh copy of
// examples/team-repo (its own tunnel.config.ts, filter plugin and sink), then run with the installed
// command against the real MariaDB. Also: configs in arbitrary directories, `tunnel init`, and what
// the tarball holds.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, mysqlConnection, repoRoot, servers, waitFor } from '../helpers/servers.ts';
import { WORKER_NODE_FLAGS } from '../helpers/node-flags.ts';

const run = promisify(execFile);
const SCHEMA = 'team_repo_e2e';
const work = mkdtempSync(join(tmpdir(), 'tunnel-team-repo-'));
const team = join(work, 'shop-sync');
const auditFile = join(team, 'audit', 'changes.ndjson');
const installedBin = join(team, 'node_modules/.bin/tunnel');
const installedCli = join(team, 'node_modules/tunnel/dist/bin/tunnel.js');

const teamEnv: Record<string, string> = {
  SHOP_DB_HOST: servers.mariadb.host,
  SHOP_DB_PORT: String(servers.mariadb.port),
  SHOP_DB_USER: servers.mariadb.user,
  SHOP_DB_PASSWORD: servers.mariadb.password,
  SHOP_DB_SCHEMA: SCHEMA,
  SHOP_DB_SERVER_ID: '5413',
  SHOP_SYNC_STATUS_PORT: '0',
  TUNNEL_LOG_FORMAT: 'json',
};

async function exec(file: string, args: string[], options: { cwd: string; env?: Record<string, string> }) {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    if (typeof e.code !== 'number') throw error;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The installed command, as `node node_modules/tunnel/dist/bin/tunnel.js <args>`. */
const tunnel = (args: string[], cwd = team, env: Record<string, string> = {}) =>
  exec(process.execPath, [installedCli, ...args], { cwd, env: { ...teamEnv, ...env } });

/** A long-running `tunnel start`, spawned directly so signals reach Tunnel itself. */
class Started {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<number | null>;
  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, { cwd: team, env: { ...process.env, ...teamEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((done) => this.child.on('exit', (code) => done(code)));
  }
  logged(message: string): boolean {
    return this.output.split('\n').some((line) => line.startsWith('{') && line.includes(`"msg":"${message}"`));
  }
}

interface AuditLine {
  table: string;
  action: 'insert' | 'update' | 'delete';
  key: unknown[];
  row: Record<string, unknown>;
  position: string;
}

function auditLines(): AuditLine[] {
  if (!existsSync(auditFile)) return [];
  return readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter((line) => line.endsWith('}'))
    .map((line) => JSON.parse(line) as AuditLine);
}

const COLUMNS = ['id', 'customer', 'total', 'status', 'note'] as const;

/** The table as the audit log says it is: every line replayed in order (seen_at is not compared). */
function auditState(): Map<string, Record<string, unknown>> {
  const state = new Map<string, Record<string, unknown>>();
  for (const line of auditLines()) {
    const id = String(line.key[0]);
    if (line.action === 'delete') state.delete(id);
    else state.set(id, Object.fromEntries(COLUMNS.map((c) => [c, line.row[c]])));
  }
  return state;
}

/** The table as the server has it, exact values as the server prints them. */
async function tableState(conn: Connection): Promise<Map<string, Record<string, unknown>>> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT id, customer, CAST(total AS CHAR) AS total, status, note FROM \`${SCHEMA}\`.orders ORDER BY id`);
  return new Map(rows.map((r) => [String(r.id), { id: r.id, customer: r.customer, total: r.total, status: r.status, note: r.note }]));
}

async function sameAsTable(conn: Connection): Promise<boolean> {
  const expected = await tableState(conn);
  const actual = auditState();
  if (expected.size !== actual.size) return false;
  for (const [id, row] of expected) if (JSON.stringify(actual.get(id)) !== JSON.stringify(row)) return false;
  return true;
}

let conn: Connection;

beforeAll(async () => {
  // 1. pack this repository as a release would (its prepare script builds dist/)
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  let started = Date.now();
  const packed = await exec('npm', ['pack', '--pack-destination', packDir, '--loglevel=error'], { cwd: repoRoot });
  expect(packed.code, packed.stderr).toBe(0);
  const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
  expect(tarball).toBeDefined();
  console.log(`team-repo: npm pack (with the build) ${Date.now() - started} ms`);

  // 2. a fresh copy of the example with the tarball where its package.json expects it
  cpSync(join(repoRoot, 'examples/team-repo'), team, {
    recursive: true,
    filter: (src) => !/[/\\](node_modules|vendor|\.tunnel|audit)([/\\]|$)/.test(src.slice(join(repoRoot, 'examples/team-repo').length)),
  });
  mkdirSync(join(team, 'vendor'));
  renameSync(join(packDir, tarball!), join(team, 'vendor/tunnel.tgz'));

  // 3. npm install from the npm cache where it can (the repository's own install filled it)
  started = Date.now();
  const installed = await exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: team });
  expect(installed.code, installed.stderr).toBe(0);
  console.log(`team-repo: npm install of the example ${Date.now() - started} ms`);

  await createTestDatabase(SCHEMA);
  conn = await mysqlConnection();
  await conn.query(`CREATE TABLE \`${SCHEMA}\`.orders (
    id INT PRIMARY KEY,
    customer VARCHAR(64) NOT NULL,
    total DECIMAL(10,2) NOT NULL,
    status ENUM('new','paid','cancelled') NOT NULL DEFAULT 'new',
    note TEXT NULL,
    seen_at DATETIME NULL
  ) CHARACTER SET utf8mb4`);
  // rows that exist before Tunnel first starts: the snapshot copies them
  await conn.query(
    `INSERT INTO \`${SCHEMA}\`.orders (id, customer, total, status, note) VALUES (1, 'ana@example.com', 12.50, 'new', NULL), (2, 'Zoë Ünal', 99999999.99, 'paid', 'gift wrap'), (3, 'bo', 0.01, 'new', '')`,
  );
}, 600_000);

afterAll(async () => {
  await conn?.query(`DROP DATABASE IF EXISTS \`${SCHEMA}\``);
  await conn?.end();
  rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds the built JavaScript, declarations and package.json, and nothing of development', async () => {
    const files = (await exec('tar', ['-tzf', join(team, 'vendor/tunnel.tgz')], { cwd: team })).stdout.trim().split('\n');
    expect(files).toContain('package/package.json');
    expect(files).toContain('package/dist/bin/tunnel.js');
    expect(files).toContain('package/dist/core/index.d.ts');
    expect(files).toContain('package/dist/core/serialize/worker.mjs');
    const outside = files.filter((f) => !/^package\/(dist\/.+\.(js|mjs|d\.ts|d\.mts)|package\.json|README\.md|LICENSE)$/.test(f));
    expect(outside).toEqual([]);
    const manifest = JSON.parse(readFileSync(join(team, 'node_modules/tunnel/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      bin: Record<string, string>;
    };
    // the command runs the build: no TypeScript loader among what a team installs
    expect(Object.keys(manifest.dependencies)).not.toContain('tsx');
    expect(manifest.bin.tunnel).toBe('./dist/bin/tunnel.js');
    accessSync(installedBin, constants.X_OK);
  });

  it("a team's TypeScript (the example, and what tunnel init writes) type-checks against the package's types", async () => {
    mkdirSync(join(team, 'typecheck-init'));
    expect((await tunnel(['init'], join(team, 'typecheck-init'))).code).toBe(0);
    writeFileSync(
      join(team, 'tsconfig.check.json'),
      JSON.stringify({ extends: './tsconfig.json', include: ['tunnel.config.ts', 'plugins', 'sinks', 'typecheck-init'] }),
    );
    const result = await exec(process.execPath, [join(team, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.check.json'], { cwd: team });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('the serializer of the package encodes in its worker pool (the worker file ships)', async () => {
    writeFileSync(
      join(team, 'pool-check.mjs'),
      `import { createSerializer } from 'tunnel';
const serializer = createSerializer({ threshold: 0, minItemBytes: 0, maxThreads: 1 });
const body = await serializer.encodeNdjson([{ a: 'x'.repeat(1000) }, { b: 2 }]);
console.log(JSON.stringify({ text: Buffer.from(body).toString(), stats: serializer.stats() }));
await serializer.close();`,
    );
    const result = await exec(process.execPath, ['pool-check.mjs'], { cwd: team });
    expect(result.stderr).toBe('');
    const out = JSON.parse(result.stdout) as { text: string; stats: { pool: number; fallbacks: number } };
    expect(out.text).toBe(`{"a":"${'x'.repeat(1000)}"}\n{"b":2}\n`);
    expect(out.stats).toMatchObject({ pool: 1, fallbacks: 0 });
  });
});

describe('configs outside a Tunnel checkout', () => {
  const tsBody = `import { defineConfig } from 'tunnel';
import { redis } from 'tunnel/sinks/redis';
const port: unknown = PORT;
export default defineConfig({ tasks: [{ name: 'a', source: { host: 'db', user: 'u', serverId: 1, port: port as number }, plugins: [redis({ name: 'cache' })] }] });
`;
  const jsBody = `import { defineConfig } from 'tunnel';
import { redis } from 'tunnel/sinks/redis';
export default defineConfig({ tasks: [{ name: 'a', source: { host: 'db', user: 'u', serverId: 1, port: PORT }, plugins: [redis({ name: 'cache' })] }] });
`;
  const elsewhere = join(work, 'elsewhere');
  // [case, directory, file, package.json beside it]
  const cases: Array<[string, string, string, string | undefined]> = [
    ['.ts, no package.json, no node_modules', elsewhere, 'tunnel.config.ts', undefined],
    ['.ts beside a CommonJS package.json', join(elsewhere, 'cjs'), 'tunnel.config.ts', '{"type":"commonjs"}'],
    ['.mts, no package.json', join(elsewhere, 'mts'), 'tunnel.config.mts', undefined],
    ['.js, no package.json', join(elsewhere, 'js'), 'tunnel.config.js', undefined],
    ['.mjs in a folder of the team repository', join(team, 'configs'), 'tunnel.config.mjs', undefined],
  ];

  it.each(cases)('%s: a bad field is reported with its path, a good config is valid', async (_name, dir, file, packageJson) => {
    mkdirSync(dir, { recursive: true });
    if (packageJson) writeFileSync(join(dir, 'package.json'), packageJson);
    const body = file.endsWith('ts') ? tsBody : jsBody;
    writeFileSync(join(dir, file), body.replace('PORT', "'3306'"));
    const bad = await tunnel(['validate', '-c', join(dir, file)], work);
    expect(bad.stderr).toContain('tunnel: invalid config: tasks[0].source.port: expected number, got "3306"');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    expect(bad.code).toBe(1);

    writeFileSync(join(dir, file), body.replace('PORT', '3306'));
    const good = await tunnel(['validate'], dir, { TUNNEL_CONFIG: file });
    expect(good.stderr).toBe('');
    expect(good.stdout).toContain(`${join(dir, file)} is valid.`);
    expect(good.code).toBe(0);
  });

  it("a plugin's own option error keeps its message and code (the config shares the running Tunnel)", async () => {
    mkdirSync(join(elsewhere, 'options'), { recursive: true });
    const file = join(elsewhere, 'options', 'tunnel.config.ts');
    writeFileSync(
      file,
      `import { elasticsearch } from 'tunnel/sinks/elasticsearch';
export default { tasks: [{ name: 'a', source: { host: 'db', user: 'u', serverId: 1 }, plugins: [elasticsearch({ node: 'ftp://search' })] }] };
`,
    );
    const result = await tunnel(['validate', '-c', file], work);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^tunnel: elasticsearch\.node: .*\n {2}\(TUNNEL_ERR_CONFIG\)\n$/);
  });

  it('tunnel init writes a config and a plugin that validate against the installed package', async () => {
    const dir = join(team, 'init-check');
    mkdirSync(dir);
    const init = await tunnel(['init'], dir);
    expect(init.code).toBe(0);
    const validate = await tunnel(['validate'], dir, { TUNNEL_MYSQL_PASSWORD: 'secret-from-env' });
    expect(validate.stderr).toBe('');
    expect(validate.stdout).toContain('tunnel.config.ts is valid.');
    expect(validate.stdout).toContain('<plugin keep-deleted-rows>');
    expect(validate.stdout).not.toContain('secret-from-env');
    const unset = await tunnel(['validate'], dir, { TUNNEL_MYSQL_PASSWORD: '' });
    expect(unset.code).toBe(1);
    expect(unset.stderr).toContain('environment variable TUNNEL_MYSQL_PASSWORD is not set');
  });
});

describe('the example team repository against the real MariaDB', () => {
  it('tunnel validate catches a bad setting with its field path', async () => {
    const bad = await tunnel(['validate'], team, { SHOP_DB_SERVER_ID: '0' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('tunnel: invalid config: tasks[0].source.serverId:');
    expect(bad.stderr).toContain('got 0');
    const good = await tunnel(['validate'], team);
    expect(good.code).toBe(0);
    expect(good.stdout).toContain('"password": "[redacted]"');
  });

  it("rows reach the team's sink through its filter; SIGTERM drains, commits and exits 0; a restart goes on without loss or repeats", async () => {
    // first start: node_modules/.bin/tunnel, the command a process manager runs
    const spawnedAt = Date.now();
    const first = new Started(installedBin, ['start']);
    await waitFor(() => auditLines().length >= 3, { timeoutMs: 60_000, what: `the snapshot's 3 rows in the audit log\n${first.output.slice(-3000)}` });
    const firstRowMs = Date.now() - spawnedAt;
    // spawn to the first rows in a sink: the installed command compiles nothing at start
    console.log(`team-repo: spawn of node_modules/.bin/tunnel start to the snapshot's rows in the sink: ${firstRowMs} ms`);
    await waitFor(() => first.logged('task starting to read the binlog'), { timeoutMs: 30_000, what: 'streaming' });

    await conn.query(
      `INSERT INTO \`${SCHEMA}\`.orders (id, customer, total, note) VALUES (4, 'dan', 7.00, 'x'), (5, 'eve', 1234.56, NULL), (6, 'fay', 0.00, '日本語')`,
    );
    await conn.query(`UPDATE \`${SCHEMA}\`.orders SET total = 13.75, status = 'paid' WHERE id = 2`);
    await conn.query(`UPDATE \`${SCHEMA}\`.orders SET seen_at = '2026-01-02 03:04:05' WHERE id = 3`);
    await conn.query(`DELETE FROM \`${SCHEMA}\`.orders WHERE id = 1`);
    await conn.query(`UPDATE \`${SCHEMA}\`.orders SET customer = 'Dan Ölund', seen_at = NOW() WHERE id = 4`);
    await waitFor(() => sameAsTable(conn), { timeoutMs: 30_000, what: 'the audit log equal to the table' });
    // the filter plugin dropped the update that only touched seen_at; the one that changed more passed
    expect(
      auditLines()
        .filter((l) => l.action === 'update')
        .map((l) => l.key[0]),
    ).toEqual([2, 4]);
    expect(auditLines().find((l) => l.action === 'update' && l.key[0] === 2)?.row).toMatchObject({ total: '13.75', status: 'paid', customer: 'Zoë Ünal' });

    // a burst of single-row transactions, and SIGTERM while it streams in
    const burst = (async () => {
      for (let id = 1000; id < 1300; id++) {
        await conn.query(`INSERT INTO \`${SCHEMA}\`.orders (id, customer, total) VALUES (?, ?, ?)`, [id, `c${id}`, `${id}.25`]);
      }
    })();
    await waitFor(() => auditLines().some((l) => Number(l.key[0]) >= 1000), { timeoutMs: 30_000, intervalMs: 5, what: 'the first rows of the burst' });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.logged('shutting down: draining in-flight batches')).toBe(true);
    expect(first.logged('tunnel stopped')).toBe(true);
    await burst;
    const burstIds = auditLines()
      .map((l) => Number(l.key[0]))
      .filter((id) => id >= 1000);
    // what was sent before the stop is a gap-free prefix of the burst, in binlog order
    expect(burstIds).toEqual(burstIds.map((_, i) => 1000 + i));

    // second start, the other documented form: node --max-semi-space-size=16 node_modules/tunnel/dist/bin/tunnel.js start
    const second = new Started(process.execPath, [...WORKER_NODE_FLAGS, installedCli, 'start']);
    await waitFor(() => sameAsTable(conn), { timeoutMs: 60_000, what: `the audit log equal to the table after the restart\n${second.output.slice(-3000)}` });
    const [[master]] = await conn.query<RowDataPacket[]>('SHOW MASTER STATUS');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    // nothing delivered twice across the stop and restart: each row change is in the log once
    const changes = auditLines().map((l) => `${l.action} ${JSON.stringify(l.key)} ${l.position}`);
    expect(changes.length - new Set(changes).size).toBe(0);
    expect(auditLines().filter((l) => Number(l.key[0]) >= 1000)).toHaveLength(300);

    // the committed position is the end of the last transaction the server wrote
    const positions = await tunnel(['positions', '--json']);
    expect(positions.code).toBe(0);
    const [stored] = JSON.parse(positions.stdout) as Array<{ task: string; stored: { position: { file: string; offset: number } } }>;
    expect(stored!.task).toBe('shop-audit');
    expect(stored!.stored.position).toMatchObject({ file: master!.File, offset: Number(master!.Position) });
  });
});
