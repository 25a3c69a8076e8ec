// Shared pieces of the benchmark driver: statistics, the stable names of what a run creates on the
// shared servers, and small process helpers.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { servers } from '../../test/helpers/servers.ts';
import { SOURCES } from './source-servers.ts';

export const benchRoot = resolve(import.meta.dirname, '..');
export const repoRoot = resolve(benchRoot, '..');
export const tmpRoot = resolve(benchRoot, '.tmp');

/** Everything a run creates on the shared servers is named here, apart from the tests' own. */
export const BENCH = {
  database: 'tunnel_bench',
  /** The prepared dataset's table (issue 16's t) and the marker table whose one row closes its range. */
  table: 't',
  markerTable: 't_end',
  latencyTable: 'live',
  esIndexPrefix: 'tunnel_bench_',
  /** A Redis database of its own, so FLUSHDB never touches the tests' keys (they use db 0). */
  redisDb: 11,
  zkCluster: 'tunnel-bench',
  webhookSecret: 'bench-webhook-secret-0123456789',
} as const;

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN, runs: [] };
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: values };
}

/** The q-quantile (0..1) of already sorted numbers, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Peak (VmHWM) and current (VmRSS) resident set of a process, in MB; undefined once it is gone. */
export function rssOf(pid: number): { hwmMB: number; rssMB: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const hwmMB = kb('VmHWM') / 1024;
    const rssMB = kb('VmRSS') / 1024;
    // an exiting (zombie) process has no memory lines any more
    return Number.isFinite(hwmMB) && Number.isFinite(rssMB) ? { hwmMB, rssMB } : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Busy and total CPU time of the whole machine so far (all CPUs), from /proc/stat, in seconds. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / 100, total: total / 100 };
}

/** The pid of the process listening on 127.0.0.1:`port`, from `ss` (undefined when none or no ss). */
function listenerPid(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString();
    const pid = /pid=(\d+)/.exec(out)?.[1];
    return pid ? Number(pid) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pids of the servers this run uses, for their CPU time during a run: the process listening on
 * each server's port (other checkouts' servers on this machine are left out, into "other").
 */
export function serverPids(): Record<'mariadb' | 'mysql' | 'redis' | 'elasticsearch' | 'zookeeper', number[]> {
  const ports = {
    mariadb: servers.mariadb.port,
    mysql: SOURCES.mysql.port,
    redis: servers.redis.port,
    elasticsearch: servers.elasticsearch.port,
    zookeeper: servers.zookeeper.port,
  };
  const out = { mariadb: [] as number[], mysql: [] as number[], redis: [] as number[], elasticsearch: [] as number[], zookeeper: [] as number[] };
  for (const [name, port] of Object.entries(ports) as Array<[keyof typeof ports, number]>) {
    const pid = listenerPid(port);
    if (pid !== undefined) out[name].push(pid);
  }
  return out;
}

/** CPU seconds per process group, to take differences across a run. */
export function cpuSnapshot(groups: Record<string, number[]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) out[name] = pids.reduce((a, pid) => a + (cpuSecondsOf(pid) ?? 0), 0);
  return out;
}
