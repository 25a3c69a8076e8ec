// Helpers for the cluster integration tests: worker processes (test/helpers/cluster-worker.ts) against the
// real ZooKeeper, a registry reader, and a recorder of every position write.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { decodePosition, registryPaths, ZkConnection, type PositionRecord, type RegistryPaths } from '../../core/cluster/index.ts';
import type { WorkerConfig, WorkerLine } from './cluster-worker.ts';
import { repoRoot, runServices, servers, waitFor } from './servers.ts';
import { WORKER_NODE_FLAGS } from './node-flags.ts';

export const zkConnect = servers.zookeeper.connectString;
const workerScript = resolve(repoRoot, 'test/helpers/cluster-worker.ts');

/** Make sure ZooKeeper answers; start it with scripts/services when it does not. */
export async function ensureZooKeeper(): Promise<void> {
  const probe = async (timeoutMs: number) => {
    const zk = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 4000 });
    try {
      await Promise.race([zk.start(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), timeoutMs))]);
      return true;
    } catch {
      return false;
    } finally {
      await zk.close();
    }
  };
  if (await probe(3000)) return;
  await runServices(['up', 'zookeeper']);
  await waitFor(() => probe(3000), { timeoutMs: 30_000, what: 'ZooKeeper answering' });
}

/** One worker process; its JSON lines are parsed into `lines`. */
export class WorkerProcess {
  readonly lines: WorkerLine[] = [];
  stderr = '';
  readonly proc: ChildProcess;
  exitCode: number | null | undefined;
  readonly exited: Promise<void>;

  constructor(readonly config: WorkerConfig) {
    // `node --import tsx` rather than `npx tsx`: the pid is the worker itself, so kill -9 / SIGSTOP hit it.
    this.proc = spawn(process.execPath, [...WORKER_NODE_FLAGS, '--import', 'tsx', workerScript, JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffer = '';
    this.proc.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as WorkerLine);
        } catch {
          this.stderr += `[stdout] ${line}\n`;
        }
      }
    });
    this.proc.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((done) =>
      this.proc.on('exit', (code) => {
        this.exitCode = code;
        done();
      }),
    );
  }

  get nodeId(): string {
    return this.config.nodeId;
  }
  get pid(): number {
    return this.proc.pid!;
  }
  get alive(): boolean {
    return this.exitCode === undefined;
  }

  kill(signal: NodeJS.Signals): void {
    process.kill(this.pid, signal);
  }

  of<E extends WorkerLine['ev']>(ev: E, since = 0): Extract<WorkerLine, { ev: E }>[] {
    return this.lines.filter((l): l is Extract<WorkerLine, { ev: E }> => l.ev === ev && l.t >= since);
  }

  /** The tasks this worker believes it runs, from its own lines. */
  running(): Set<string> {
    const set = new Set<string>();
    for (const l of this.lines) {
      if (l.ev === 'taskAcquired') set.add(l.task);
      else if (l.ev === 'taskReleasing' || l.ev === 'taskReleased') set.delete(l.task);
      else if (l.ev === 'tasksLost') for (const t of l.tasks) set.delete(t);
    }
    return set;
  }

  async waitLine<E extends WorkerLine['ev']>(ev: E, pred: (l: Extract<WorkerLine, { ev: E }>) => boolean = () => true, timeoutMs = 15_000) {
    return waitFor(() => this.of(ev).find(pred), { timeoutMs, intervalMs: 20, what: `${this.nodeId}: ${ev}` });
  }
}

export interface RegistrySnapshot {
  /** Children of the group node. */
  groupChildren: string[];
  election: string | undefined;
  nodes: string[];
  nodeData: Record<string, { tasks: string[]; [k: string]: unknown }>;
  assignment: Record<string, string>;
  /** task → node id in its owner node (undefined: nobody owns it). */
  owners: Record<string, string | undefined>;
  positions: Record<string, (PositionRecord & { version: number }) | undefined>;
}

/** Reads the registry of one group. */
export class Registry {
  readonly paths: RegistryPaths;
  constructor(
    readonly zk: ZkConnection,
    cluster: string,
    group: string,
    readonly tasks: readonly string[],
  ) {
    this.paths = registryPaths(cluster, group);
  }

  static async open(cluster: string, group: string, tasks: readonly string[]): Promise<Registry> {
    const zk = new ZkConnection({ connect: zkConnect, sessionTimeoutMs: 10_000 });
    await zk.start();
    return new Registry(zk, cluster, group, tasks);
  }

  async snapshot(): Promise<RegistrySnapshot> {
    const p = this.paths;
    const [groupChildren, election, nodes, assignment] = await Promise.all([
      this.zk.getChildren(p.groupRoot),
      this.zk.getData(p.election),
      this.zk.getChildren(p.nodes),
      this.zk.getData(p.assignment),
    ]);
    const nodeData: RegistrySnapshot['nodeData'] = {};
    await Promise.all(
      (nodes ?? []).map(async (n) => {
        const d = await this.zk.getData(p.node(n));
        if (d) nodeData[n] = JSON.parse(d.data.toString('utf8')) as RegistrySnapshot['nodeData'][string];
      }),
    );
    const owners: RegistrySnapshot['owners'] = {};
    const positions: RegistrySnapshot['positions'] = {};
    await Promise.all(
      this.tasks.map(async (t) => {
        const [o, pos] = await Promise.all([this.zk.getData(p.owner(t)), this.zk.getData(p.position(t))]);
        owners[t] = o?.data.toString('utf8');
        positions[t] = pos ? { ...decodePosition(pos.data, p.position(t)), version: pos.stat.version } : undefined;
      }),
    );
    return {
      groupChildren: (groupChildren ?? []).sort(),
      election: election?.data.toString('utf8'),
      nodes: (nodes ?? []).sort(),
      nodeData,
      assignment: assignment ? (JSON.parse(assignment.data.toString('utf8')) as Record<string, string>) : {},
      owners,
      positions,
    };
  }

  /** Delete the whole cluster tree (test clean-up). */
  async removeCluster(): Promise<void> {
    const root = p2root(this.paths.groupRoot);
    await this.rmr(root);
  }

  private async rmr(path: string): Promise<void> {
    const children = (await this.zk.getChildren(path)) ?? [];
    for (const c of children) await this.rmr(`${path}/${c}`);
    await this.zk.remove(path).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.zk.close();
  }
}

function p2root(groupRoot: string): string {
  return groupRoot.slice(0, groupRoot.lastIndexOf('/'));
}

export interface PositionWrite extends PositionRecord {
  task: string;
  version: number;
  /** When the recorder saw it. */
  seenAt: number;
}

/**
 * Records every version of every task's position node: a data watch per node, re-read on each change.
 * One writer per task at 10 writes/s leaves time to read each version; `gaps` counts versions that were
 * overwritten before they could be read.
 */
export class PositionRecorder {
  readonly writes: PositionWrite[] = [];
  gaps = 0;
  private readonly last = new Map<string, number>();
  private stopped = false;

  constructor(private readonly registry: Registry) {}

  start(): void {
    for (const t of this.registry.tasks) void this.watch(t);
    // Watches die with a session: start them again in a new one.
    this.registry.zk.on('session', () => {
      for (const t of this.registry.tasks) void this.watch(t);
    });
  }

  stop(): void {
    this.stopped = true;
  }

  of(task: string): PositionWrite[] {
    return this.writes.filter((w) => w.task === task);
  }

  private async watch(task: string): Promise<void> {
    if (this.stopped) return;
    const path = this.registry.paths.position(task);
    const again = () => void this.watch(task);
    try {
      const res = await this.registry.zk.getData(path, again);
      if (!res) {
        const stat = await this.registry.zk.exists(path, again);
        if (stat) again();
        return;
      }
      const prev = this.last.get(task);
      if (prev === undefined || res.stat.version > prev) {
        if (prev !== undefined && res.stat.version > prev + 1) this.gaps += res.stat.version - prev - 1;
        this.last.set(task, res.stat.version);
        this.writes.push({ task, version: res.stat.version, seenAt: Date.now(), ...decodePosition(res.data, path) });
      }
    } catch {
      // connection trouble (ZooKeeper restart): try again shortly
      setTimeout(again, 200);
    }
  }
}

let nextPort = 9100 + (process.pid % 500) * 10;
export function workerConfig(cluster: string, group: string, tasks: readonly string[], extra: Partial<WorkerConfig> = {}): WorkerConfig {
  return {
    connect: zkConnect,
    cluster,
    group,
    nodeId: `127.0.0.1:${nextPort++}`,
    tasks: [...tasks],
    sessionTimeoutMs: 4000,
    ...extra,
  };
}
