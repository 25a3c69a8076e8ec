// A worker process for the cluster integration tests: a real ClusterMember against the real ZooKeeper,
// with a fake task runner of our own (no binlog): for every task it owns it loads the stored position
// and then writes a counter position {file: 'counter', offset: n} every 100 ms through
// ZooKeeperPositionStore. It prints one JSON line per event on stdout; logs go to stderr.
//
//   node --import tsx test/helpers/cluster-worker.ts '{"connect":"127.0.0.1:12181","cluster":"c","group":"g",
//     "nodeId":"w1:9001","tasks":["t1","t2"],"sessionTimeoutMs":4000}'
//
// SIGTERM: graceful close (tasks released, member node deleted) and exit 0.
import { pino } from 'pino';
import { ClusterMember, ZooKeeperPositionStore, type ClusterMemberOptions } from '../../core/cluster/index.ts';
import { FencedError } from '../../core/errors/index.ts';

export interface WorkerConfig extends Pick<
  ClusterMemberOptions,
  'connect' | 'cluster' | 'group' | 'nodeId' | 'tasks' | 'pins' | 'auth' | 'sessionTimeoutMs' | 'rebalanceDelayMs'
> {
  /** Milliseconds between position writes of one task. Default 100. */
  intervalMs?: number;
  logLevel?: string;
}

/** The JSON lines a worker prints. */
export type WorkerLine =
  | { ev: 'started'; node: string; t: number; sessionId: string | undefined }
  | { ev: 'elected'; node: string; t: number }
  | { ev: 'deposed'; node: string; t: number }
  | { ev: 'closed'; node: string; t: number }
  | { ev: 'sessionState'; node: string; t: number; state: string }
  | { ev: 'taskAcquired'; node: string; t: number; task: string; epoch: number }
  | { ev: 'taskStarted'; node: string; t: number; task: string; from: number }
  | { ev: 'taskReleasing'; node: string; t: number; task: string; reason: string }
  | { ev: 'taskReleased'; node: string; t: number; task: string }
  | { ev: 'tasksLost'; node: string; t: number; tasks: string[]; reason: string }
  | { ev: 'saved'; node: string; t: number; task: string; offset: number }
  | { ev: 'fenced'; node: string; t: number; task: string; message: string }
  | { ev: 'error'; node: string; t: number; task?: string; message: string };

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const node = config.nodeId;
const out = (line: Record<string, unknown>) => process.stdout.write(JSON.stringify({ ...line, node, t: Date.now() }) + '\n');
const logger = pino({ level: config.logLevel ?? 'info', base: { node } }, pino.destination(2));

const member = new ClusterMember({ ...config, logger });
const store = new ZooKeeperPositionStore(member);

/** One task's fake runner: a counter written as the position every intervalMs. */
class CounterTask {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> = Promise.resolve();
  private counter = 0;

  constructor(readonly task: string) {}

  async start(): Promise<void> {
    try {
      const stored = await store.load(this.task);
      if (this.stopped) return;
      this.counter = stored?.position.offset ?? 0;
      out({ ev: 'taskStarted', task: this.task, from: this.counter });
      this.schedule();
    } catch (err) {
      out({ ev: 'error', task: this.task, message: String(err) });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inflight = this.tick();
    }, config.intervalMs ?? 100);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const next = this.counter + 1;
    try {
      await store.save(this.task, { position: { file: 'counter', offset: next }, updatedAt: Date.now() });
      this.counter = next;
      out({ ev: 'saved', task: this.task, offset: next });
      this.schedule();
    } catch (err) {
      if (err instanceof FencedError) {
        out({ ev: 'fenced', task: this.task, message: err.message });
        this.stopped = true;
      } else {
        out({ ev: 'error', task: this.task, message: String(err) });
        this.schedule();
      }
    }
  }

  /** Resolves once no write is in flight any more. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.inflight;
  }
}

const running = new Map<string, CounterTask>();

member.on('elected', () => out({ ev: 'elected' }));
member.on('deposed', () => out({ ev: 'deposed' }));
member.on('sessionState', (state) => out({ ev: 'sessionState', state }));
member.on('taskAcquired', (task, lease) => {
  out({ ev: 'taskAcquired', task, epoch: lease.epoch });
  const runner = new CounterTask(task);
  running.set(task, runner);
  void runner.start();
});
member.on('taskReleasing', (release) => {
  out({ ev: 'taskReleasing', task: release.task, reason: release.reason });
  const runner = running.get(release.task);
  running.delete(release.task);
  if (runner) release.waitUntil(runner.stop());
});
member.on('taskReleased', (task) => out({ ev: 'taskReleased', task }));
member.on('tasksLost', (lost) => {
  out({ ev: 'tasksLost', tasks: lost.tasks, reason: lost.reason });
  for (const task of lost.tasks) {
    const runner = running.get(task);
    running.delete(task);
    if (runner) lost.waitUntil(runner.stop());
  }
});

let closing = false;
process.on('SIGTERM', () => {
  if (closing) return;
  closing = true;
  void member.close().then(
    () => {
      out({ ev: 'closed' });
      process.exit(0);
    },
    (err) => {
      out({ ev: 'error', message: String(err) });
      process.exit(1);
    },
  );
});

await member.start();
out({ ev: 'started', sessionId: member.zk.sessionId });
