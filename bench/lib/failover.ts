// Failover: three workers (bench/cluster-node.ts, or `tunnel start` once it has cluster mode) in one
// group with a 4 s ZooKeeper session timeout run one task (binlog → Redis) while a writer commits
// rows. The owner of the task is killed with SIGKILL; the figure is the time from the kill to the
// first batch acknowledged by the new owner (its probe's batchWritten), split into kill → acquired
// (session expiry, rebalance, ownership) and acquired → first delivery (task start, binlog resume).
import { fork, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { mysqlConnection, servers, zkClient } from '../../test/helpers/servers.ts';
import { binlogEnd } from '../../test/helpers/source-harness.ts';
import { BENCH, benchRoot, log, sleep, tmpRoot } from './common.ts';
import { freshTable } from './orders.ts';
import { taskConfigExpression } from './catchup.ts';
import { resetSink, sinkPlugin } from './sinks.ts';
import { writeConfig } from './tunnel-child.ts';
import { tunnelUnderTest } from './tunnel-under-test.ts';
import { WORKER_NODE_FLAGS } from '../../test/helpers/node-flags.ts';
import { PacedWriter } from './writer.ts';
import type { ProbeMessage } from './probe.ts';

type MemberMessage = { type: 'member'; ev: string; at: number; node: string; task?: string };
type Message = (ProbeMessage | MemberMessage) & { node?: string };

export interface FailoverRun {
  /** Kill → first batch acknowledged by the new owner, ms. */
  ms: number;
  /** Kill → taskAcquired on the new owner, ms. */
  acquiredMs: number;
  /** Kill → the killed owner's ephemeral owner node deleted by ZooKeeper (its session expired), ms. */
  expiredMs: number;
  ownerWasLeader: boolean;
  mode: 'tunnel start' | 'bench/cluster-node.ts';
}

/** The log lines of `tunnel start` (core/cli/commands.ts, core/runtime/cluster-binding.ts) that mark member events. */
const LOG_EVENTS: Record<string, string> = {
  'tunnel started: joined its group': 'started',
  'this worker leads its group': 'elected',
  'task acquired: starting it from its stored position': 'acquired',
};

class Node {
  output = '';
  readonly messages: Array<Message & { node: string }> = [];
  readonly proc: ChildProcess;
  exited: Promise<void>;
  constructor(
    readonly id: string,
    configFile: string,
    mode: FailoverRun['mode'],
  ) {
    const script = mode === 'tunnel start' ? tunnelUnderTest.bin : resolve(benchRoot, 'cluster-node.ts');
    const args = mode === 'tunnel start' ? ['start', '-c', configFile] : [configFile];
    this.proc = fork(script, args, {
      // a worker either way: the worker's Node flags (bin/tunnel.ts's shebang)
      execArgv: mode === 'tunnel start' ? [...WORKER_NODE_FLAGS] : [...WORKER_NODE_FLAGS, '--import', 'tsx'],
      env: { ...process.env, BENCH_NODE: id, TUNNEL_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.proc.stderr!.on('data', (c: Buffer) => (this.output = (this.output + c.toString()).slice(-4000)));
    this.proc.on('message', (m: Message) => this.messages.push({ ...m, node: id }));
    // `tunnel start` says what its cluster member does in its (JSON) log lines
    let buffer = '';
    this.proc.stdout!.on('data', (c: Buffer) => {
      buffer += c.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.output = (this.output + line + '\n').slice(-4000);
        if (!line.startsWith('{')) continue;
        let entry: { msg?: string; time?: number; task?: string };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        const ev = entry.msg && LOG_EVENTS[entry.msg];
        if (ev) this.messages.push({ type: 'member', ev, at: entry.time ?? Date.now(), node: id, ...(entry.task ? { task: entry.task } : {}) });
      }
    });
    this.exited = new Promise((r) => this.proc.on('exit', () => r()));
  }
  has(pred: (m: Message) => boolean): Message | undefined {
    return this.messages.find(pred);
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    // the IPC channel would keep a `tunnel start` child alive after its graceful stop
    const d = setTimeout(() => this.proc.connected && this.proc.disconnect(), 3000);
    await this.exited;
    clearTimeout(d);
    clearTimeout(t);
  }
}

async function until<T>(fn: () => T | undefined, timeoutMs: number, what: string | (() => string)): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`failover: ${typeof what === 'string' ? what : what()} not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

export async function runFailover(run: number, mode: FailoverRun['mode'], sessionTimeoutMs = 4000): Promise<FailoverRun> {
  const table = BENCH.latencyTable;
  await resetSink('redis', table);
  const conn = await mysqlConnection();
  const qualified = await freshTable(conn, table);
  const from = await binlogEnd();
  const clusterName = `${BENCH.zkCluster}-${Date.now().toString(36)}-${run}`;
  const name = `failover-${run}`;
  rmSync(join(tmpRoot, name), { recursive: true, force: true });
  const sink = sinkPlugin('redis', table);
  const { file } = writeConfig(
    name,
    sink.imports,
    taskConfigExpression({
      dir: join(tmpRoot, name),
      include: `${BENCH.database}.${table}`,
      startFrom: JSON.stringify(from),
      plugins: ['benchProbe({ ackIds: true })', sink.expression],
      logLevel: 'info',
      extraTop: `cluster: { name: ${JSON.stringify(clusterName)}, group: 'g', node: process.env.BENCH_NODE,
    zookeeper: { connect: ${JSON.stringify(servers.zookeeper.connectString)}, sessionTimeoutMs: ${sessionTimeoutMs} } },`,
    }),
  );
  const writer = new PacedWriter(conn, qualified, { rate: 500, rowsPerTx: 10 });
  const nodes = ['w1', 'w2', 'w3'].map((id) => new Node(id, file, mode));
  try {
    await until(
      () => (nodes.every((n) => n.has((m) => m.type === 'member' && m.ev === 'started')) ? true : undefined),
      60_000,
      () => `three workers started; outputs:\n${nodes.map((n) => n.output.slice(-800)).join('\n')}`,
    );
    void writer.start();
    const owner = await until(() => nodes.find((n) => n.has((m) => m.type === 'acked')), 30_000, 'a first delivery');
    await sleep(2000); // steady state: the owner delivers, positions are committed
    const ownerWasLeader = owner.has((m) => m.type === 'member' && m.ev === 'elected') !== undefined;
    const others = nodes.filter((n) => n !== owner);
    // ZooKeeper's own part: when the killed worker's session expires, its ephemeral owner node goes.
    const zk = await zkClient(10_000);
    let expiredAt = NaN;
    const ownerPath = `/tunnel/${clusterName}/g/task/bench/owner`;
    await new Promise<void>((ok) =>
      zk.exists(
        ownerPath,
        (event) => {
          if (event.getName() === 'NODE_DELETED') expiredAt = Date.now();
        },
        () => ok(),
      ),
    );
    const killedAt = Date.now();
    owner.proc.kill('SIGKILL');
    const acked = await until(
      () => others.flatMap((n) => n.messages).find((m) => m.type === 'acked' && m.at >= killedAt),
      60_000,
      'a delivery by the new owner',
    );
    const acquired = others.flatMap((n) => n.messages).find((m) => m.type === 'member' && m.ev === 'acquired' && m.at >= killedAt);
    zk.close();
    const result: FailoverRun = {
      ms: acked.at - killedAt,
      acquiredMs: acquired ? acquired.at - killedAt : NaN,
      expiredMs: expiredAt - killedAt,
      ownerWasLeader,
      mode,
    };
    log(
      `failover run ${run}: kill of ${owner.id}${ownerWasLeader ? ' (the leader)' : ''}: its session expired after ${result.expiredMs} ms, ` +
        `${acked.node} acquired after ${result.acquiredMs} ms, first delivery after ${result.ms} ms`,
    );
    return result;
  } finally {
    await writer.stop();
    await conn.end();
    await Promise.all(nodes.map((n) => n.stop()));
    await removeCluster(clusterName).catch(() => undefined);
  }
}

async function removeCluster(name: string): Promise<void> {
  const zk = await zkClient(4000);
  const children = (path: string) => new Promise<string[]>((ok) => zk.getChildren(path, (error, list) => ok(error ? [] : list)));
  const remove = (path: string) => new Promise<void>((ok) => zk.remove(path, () => ok()));
  const rmr = async (path: string): Promise<void> => {
    for (const child of await children(path)) await rmr(`${path}/${child}`);
    await remove(path);
  };
  try {
    await rmr(`/tunnel/${name}`);
  } finally {
    zk.close();
  }
}
