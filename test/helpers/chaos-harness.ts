// Shared pieces of the chaos suite (test/chaos): a task folder with its config, a `tunnel start`
// with its status URL, CLI runs, reading every sink, comparing them with the table, and the one-line
// outcome per fault (console + test-results/chaos-summary.jsonl).
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Client as EsClient } from '@elastic/elasticsearch';
import type { Redis } from 'ioredis';
import type { Connection, Pool } from 'mysql2/promise';
import { repoRoot, servers } from './servers.ts';
import { WORKER_NODE_FLAGS } from './node-flags.ts';
import { diffRows, type Row, type RowDiff } from './compare-rows.ts';

export type { Row, RowDiff };

/**
 * batch.maxRows of every chaos task: a crash delivers again what was sent after the last commit, at
 * most the batch in flight per sink (docs/architecture.md, the commit rule), so a kill costs a sink at
 * most this many duplicates (one row per event under RowWriter's load).
 */
export const CHAOS_BATCH_ROWS = 500;

// ---------------------------------------------------------------------------------------------
// folders, configs, processes

/** A fresh folder under .data (git-ignored) that loads .ts files as ES modules. */
export function taskDir(prefix: string): string {
  mkdirSync(join(repoRoot, '.data'), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, '.data', `chaos-${prefix}-`));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  return dir;
}

export function removeDir(dir: string | undefined): void {
  if (dir && !process.env.TUNNEL_CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
}

export interface TaskText {
  name: string;
  /** The `source` object literal as TS text; default: the test server as the tunnel user. */
  source?: string;
  db: string;
  serverId: number;
  startFrom?: { file: string; offset: number } | 'latest' | 'earliest';
  /** TS expressions, one per plugin. */
  plugins: string[];
  /** Extra task fields as TS text, e.g. `onPluginError: 'dead-letter',`. */
  extra?: string;
}

export interface ConfigText {
  dir: string;
  /** Import lines besides defineConfig, redis, webhook, elasticsearch. */
  imports?: string[];
  tasks: TaskText[];
  /** Extra top-level fields as TS text. */
  extra?: string;
  status?: string;
  /** Default 10000. */
  shutdownTimeoutMs?: number;
}

export function sourceText(task: TaskText): string {
  const start = task.startFrom === undefined ? "'latest'" : JSON.stringify(task.startFrom);
  return (
    task.source ??
    `{ host: '${servers.mariadb.host}', port: ${servers.mariadb.port}, user: '${servers.mariadb.user}', password: '${servers.mariadb.password}', serverId: ${task.serverId}, include: ['${task.db}.*'], startFrom: ${start} }`
  );
}

/** Writes `tunnel.config.ts` in `dir` and returns its path. */
export function writeConfig(config: ConfigText, file = 'tunnel.config.ts'): string {
  const text = `
import { defineConfig, fromEnv, fromFile } from '${repoRoot}/core/index.ts';
import { redis, redisDeadLetterStore } from '${repoRoot}/sinks/redis/index.ts';
import { webhook } from '${repoRoot}/sinks/http/index.ts';
import { elasticsearch } from '${repoRoot}/sinks/elasticsearch/index.ts';
${(config.imports ?? []).join('\n')}
void fromEnv; void fromFile; void redis; void redisDeadLetterStore; void webhook; void elasticsearch;

export default defineConfig({
  positions: { dir: '${config.dir}/positions' },
  deadLetters: { dir: '${config.dir}/dead-letters' },
  status: ${config.status ?? '{ port: 0 }'},
  shutdownTimeoutMs: ${config.shutdownTimeoutMs ?? 10000},
  ${config.extra ?? ''}
  tasks: [${config.tasks
    .map(
      (task) => `{
    name: '${task.name}',
    source: ${sourceText(task)},
    commitIntervalMs: 50,
    batch: { maxRows: ${CHAOS_BATCH_ROWS}, maxWaitMs: 20 },
    retry: { initialDelayMs: 100, maxDelayMs: 2000 },
    ${task.extra ?? ''}
    plugins: [
      ${task.plugins.join(',\n      ')}
    ],
  }`,
    )
    .join(', ')}],
});
`;
  const path = join(config.dir, file);
  writeFileSync(path, text);
  return path;
}

/** Plugin expressions for the usual sinks. */
export const sinkText = {
  redis: (port: number, key: string, extra = '') =>
    `redis({ name: 'redis', connection: { host: '127.0.0.1', port: ${port} }, key: '${key}', value: 'json' ${extra ? `, ${extra}` : ''} })`,
  webhook: (url: string, secret: string, extra = '') =>
    `webhook({ name: 'webhook', url: '${url}', secret: '${secret}', retries: 1 ${extra ? `, ${extra}` : ''} })`,
  elasticsearch: (url: string, extra = '') =>
    `elasticsearch({ name: 'es', node: '${url}', maxRetries: 0, requestTimeoutMs: 5000 ${extra ? `, ${extra}` : ''} })`,
};

export { TunnelCommand } from './tunnel-process.ts';
import { TunnelCommand } from './tunnel-process.ts';

/** A started `tunnel start` (or `snapshot`) and the URL of its status endpoint. */
export interface RunningTunnel {
  proc: TunnelCommand;
  statusUrl: string;
  startedAt: number;
}

export async function startTunnel(
  configFile: string,
  env: Record<string, string> = {},
  timeoutMs = 60_000,
  command: string[] = ['start'],
): Promise<RunningTunnel> {
  const startedAt = Date.now();
  const proc = new TunnelCommand([...command, '-c', configFile], env);
  const listening = await proc.waitForLog((l) => l.msg === 'status endpoint listening', timeoutMs);
  // standalone: 'tunnel started'; cluster mode: 'tunnel started: joined its group'
  await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('tunnel started'), timeoutMs);
  return { proc, statusUrl: String(listening.url).replace(/\/$/, ''), startedAt };
}

/** The log line a worker writes when a task of it starts reading the binlog. */
export const TASK_READING = 'task starting to read the binlog';

/** Whether the worker has started reading a task's binlog (its log says so). */
export function isReading(worker: RunningTunnel | undefined): boolean {
  return worker?.proc.logs().some((l) => l.msg === TASK_READING) ?? false;
}

/** SIGTERM and wait; the exit code. */
export async function stopTunnel(tunnel: RunningTunnel | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!tunnel || tunnel.proc.child.exitCode !== null || tunnel.proc.child.signalCode !== null) return tunnel?.proc.child.exitCode ?? null;
  tunnel.proc.kill(signal);
  const exit = await tunnel.proc.exited;
  return exit.code;
}

export interface TaskStatusJson {
  name: string;
  state: string;
  lastError?: string | null;
  committedPosition?: { file: string; offset: number } | null;
  readPosition?: { file: string; offset: number } | null;
  [key: string]: unknown;
}

export async function apiStatus(tunnel: RunningTunnel, token?: string): Promise<{ tasks: TaskStatusJson[]; [key: string]: unknown }> {
  const response = await fetch(`${tunnel.statusUrl}/api/status`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (!response.ok) throw new Error(`/api/status answered ${response.status}`);
  return (await response.json()) as { tasks: TaskStatusJson[] };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tunnel <args>` (bin/tunnel.js) to the end. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [...WORKER_NODE_FLAGS, resolve(repoRoot, 'bin/tunnel.js'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, TUNNEL_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => done(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Peak and current resident memory of a process, MB (from /proc/<pid>/status). */
export function memoryOf(pid: number): { hwmMb: number; rssMb: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// source positions

export async function masterPosition(conn: Connection): Promise<{ file: string; offset: number }> {
  const [[row]] = (await conn.query('SHOW MASTER STATUS')) as unknown as [[{ File: string; Position: number }]];
  return { file: row.File, offset: Number(row.Position) };
}

/** Binlog positions in order: file name (zero-padded sequence), then offset. */
export function comparePositions(a: { file: string; offset: number }, b: { file: string; offset: number }): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  return a.offset - b.offset;
}

// ---------------------------------------------------------------------------------------------
// reading sinks

/** Every document of an index, by _id (refreshed first). */
export async function esRows(es: EsClient, index: string): Promise<Map<string, Row>> {
  await es.indices.refresh({ index });
  const out = new Map<string, Row>();
  let response = await es.search<Row>({ index, size: 5000, scroll: '30s', query: { match_all: {} } });
  for (;;) {
    const hits = response.hits.hits;
    for (const hit of hits) out.set(hit._id!, hit._source!);
    if (hits.length === 0 || !response._scroll_id) break;
    response = await es.scroll<Row>({ scroll_id: response._scroll_id, scroll: '30s' });
  }
  if (response._scroll_id) await es.clearScroll({ scroll_id: response._scroll_id }).catch(() => undefined);
  return out;
}

/** All `prefix*` keys of a Redis sink storing rows as JSON (SCAN, not KEYS), by id. */
export async function redisRows(redis: Redis, prefix: string): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length > 0) {
      const values = await redis.mget(...keys);
      keys.forEach((key, i) => {
        if (values[i] !== null) out.set(key.slice(prefix.length), JSON.parse(values[i]!) as Row);
      });
    }
  } while (cursor !== '0');
  return out;
}

export async function deleteRedisKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 2000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

// ---------------------------------------------------------------------------------------------
// comparing

export function canonicalRow(row: Row): string {
  return JSON.stringify(Object.fromEntries(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

/** Every row, every column (compare-rows.ts, diffRows). */
export const diff = diffRows;

export const diffSize = (d: RowDiff) => d.missing.length + d.extra.length + d.different.length;

export type SinkReaders = Record<string, () => Promise<Map<string, Row>>>;

export interface Comparison {
  /** Rows wrong in any sink (missing, extra or different), summed over the sinks. */
  lost: number;
  bySink: Record<string, RowDiff>;
  /** From the call until every sink was equal (or the deadline). */
  waitedMs: number;
  /** When the last comparison ended (ms since the epoch). */
  endedAt: number;
}

/**
 * Polls every sink until each equals `expected` row for row (all rows compared), or until the
 * deadline; returns the last comparison either way, so a failing test still prints its numbers.
 */
export function waitUntilEqual(
  expected: Map<string, Row>,
  sinks: SinkReaders,
  timeoutMs = 90_000,
  done: (c: Omit<Comparison, 'waitedMs' | 'endedAt'>) => boolean = (c) => c.lost === 0,
): Promise<Comparison> {
  return waitUntilAllEqual(Object.fromEntries(Object.entries(sinks).map(([name, read]) => [name, { expected, read }])), timeoutMs, done);
}

/** As waitUntilEqual, with an expectation of its own per sink (e.g. the table minus a rejected row). */
export async function waitUntilAllEqual(
  checks: Record<string, { expected: Map<string, Row>; read: () => Promise<Map<string, Row>> }>,
  timeoutMs = 90_000,
  done: (c: Omit<Comparison, 'waitedMs' | 'endedAt'>) => boolean = (c) => c.lost === 0,
): Promise<Comparison> {
  const started = Date.now();
  for (;;) {
    const bySink: Record<string, RowDiff> = {};
    let lost = 0;
    for (const [name, { expected, read }] of Object.entries(checks)) {
      try {
        bySink[name] = diff(expected, await read());
      } catch (error) {
        bySink[name] = { missing: [`(cannot read: ${(error as Error).message})`], extra: [], different: [] };
      }
      lost += diffSize(bySink[name]!);
    }
    const endedAt = Date.now();
    const waitedMs = endedAt - started;
    if (done({ lost, bySink }) || waitedMs > timeoutMs) return { lost, bySink, waitedMs, endedAt };
    await sleep(250);
  }
}

export function describeComparison(c: Comparison): string {
  return Object.entries(c.bySink)
    .map(
      ([name, d]) =>
        `${name}: missing ${d.missing.length} [${d.missing.slice(0, 5).join(',')}] extra ${d.extra.length} [${d.extra.slice(0, 5).join(',')}] different ${d.different.length} [${d.different.slice(0, 5).join(',')}]`,
    )
    .join('; ');
}

// ---------------------------------------------------------------------------------------------
// the outcome of a fault

export interface FaultOutcome {
  fault: string;
  lost: number;
  duplicates: number;
  duplicatesBySink?: Record<string, number>;
  /** From the end of the fault until every sink equalled the table. */
  recoveryMs?: number;
  rows?: number;
  statements?: number;
  [key: string]: unknown;
}

export const summaryFile = join(repoRoot, 'test-results', 'chaos-summary.jsonl');

/** Prints `fault: <name>; lost: N; duplicates: N; ...` and appends the same as JSON to test-results/chaos-summary.jsonl. */
export function reportFault(outcome: FaultOutcome): string {
  const { fault, lost, duplicates, duplicatesBySink, recoveryMs, ...rest } = outcome;
  const parts = [`fault: ${fault}`, `lost: ${lost}`, `duplicates: ${duplicates}`];
  if (duplicatesBySink)
    parts.push(
      `duplicates by sink: ${Object.entries(duplicatesBySink)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  if (recoveryMs !== undefined) parts.push(`recovered in: ${(recoveryMs / 1000).toFixed(1)} s`);
  for (const [key, value] of Object.entries(rest))
    if (value !== undefined) parts.push(`${key}: ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`);
  const line = parts.join('; ');
  console.log(line);
  mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
  appendFileSync(summaryFile, `${JSON.stringify({ at: new Date().toISOString(), ...outcome })}\n`);
  return line;
}

// ---------------------------------------------------------------------------------------------
// one fault under writes

export interface WriteLoad {
  start(): void;
  stop(): Promise<void>;
  statements: number;
}

export interface SinkCounter {
  /** Duplicates counted so far. */
  duplicates(): number;
  /** Writes seen so far (events received, SETs run, bulk actions acknowledged). */
  writes(): number;
}

export interface FaultRun {
  name: string;
  /** A new write load for this fault; started before the fault, stopped when it is healed. */
  load: () => WriteLoad;
  /** Writes before the fault begins. Default 2000 ms. */
  warmupMs?: number;
  inject: () => Promise<void>;
  /** From the start of inject() to the start of heal(). */
  holdMs: number;
  heal: () => Promise<void>;
  /** The source table's rows, read after the writes stopped. */
  expected: () => Promise<Map<string, Row>>;
  sinks: () => { readers: SinkReaders; close(): void };
  counters: Record<string, SinkCounter>;
  /** Fields for the summary line; may be filled in by inject/heal. */
  extra?: Record<string, unknown>;
  timeoutMs?: number;
}

export interface FaultResult {
  comparison: Comparison;
  outcome: FaultOutcome;
  statements: number;
}

/**
 * Starts the write load, lets it run, injects the fault, holds it, heals it, stops the writes at
 * once, and waits until every sink equals the table; reports the outcome line. Recovery is from the
 * end of the fault (heal() returned, writes stopped) to every sink equal.
 */
export async function runFault(run: FaultRun): Promise<FaultResult> {
  const before = Object.fromEntries(Object.entries(run.counters).map(([name, c]) => [name, { duplicates: c.duplicates(), writes: c.writes() }]));
  const load = run.load();
  load.start();
  let faultStarted = 0;
  let faultEnded = 0;
  try {
    await sleep(run.warmupMs ?? 2000);
    faultStarted = Date.now();
    await run.inject();
    await sleep(Math.max(0, faultStarted + run.holdMs - Date.now()));
    await run.heal();
    faultEnded = Date.now();
  } finally {
    await load.stop();
  }
  const expected = await run.expected();
  const { readers, close } = run.sinks();
  let comparison: Comparison;
  try {
    comparison = await waitUntilEqual(expected, readers, run.timeoutMs ?? 120_000);
  } finally {
    close();
  }
  const duplicatesBySink: Record<string, number> = {};
  const writesSeen: string[] = [];
  for (const [name, counter] of Object.entries(run.counters)) {
    duplicatesBySink[name] = counter.duplicates() - before[name]!.duplicates;
    writesSeen.push(`${name} ${counter.writes() - before[name]!.writes}`);
  }
  const outcome: FaultOutcome = {
    fault: run.name,
    lost: comparison.lost,
    duplicates: Object.values(duplicatesBySink).reduce((a, b) => a + b, 0),
    duplicatesBySink,
    recoveryMs: comparison.endedAt - faultEnded,
    faultSeconds: ((faultEnded - faultStarted) / 1000).toFixed(1),
    rows: expected.size,
    statements: load.statements,
    writesSeen: writesSeen.join(', '),
    ...run.extra,
  };
  reportFault(outcome);
  if (comparison.lost > 0) console.log(describeComparison(comparison));
  return { comparison, outcome, statements: load.statements };
}

/**
 * A pool for RowWriter whose getConnection() waits (up to 60 s) while the server is down instead of
 * failing: RowWriter takes its connection outside its own error handling.
 */
export function patientPool(pool: Pool): Pool {
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop !== 'getConnection') return Reflect.get(target, prop, receiver) as unknown;
      return async () => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            return await target.getConnection();
          } catch (error) {
            if (Date.now() > deadline) throw error;
            await sleep(200);
          }
        }
      };
    },
  });
}
