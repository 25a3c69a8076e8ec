// The soak run's workers: `tunnel start` processes of one cluster group, each in a slot (w1, w2, w3)
// that a supervisor keeps filled: a killed worker's slot gets a new process after a pause. Log lines
// are read as they come (JSON) and only the cluster events the run measures are kept, with the last
// few kilobytes of output for a failure message, so a 30-minute run holds no growing log.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { repoRoot, sleep } from './common.ts';
import { WORKER_NODE_FLAGS } from '../../test/helpers/node-flags.ts';

export interface WorkerEvent {
  at: number;
  slot: string;
  what: 'started' | 'acquired' | 'sessionLost' | 'taskFailed';
  task?: string;
}

const EVENTS: Record<string, WorkerEvent['what']> = {
  'tunnel started: joined its group': 'started',
  'task acquired: starting it from its stored position': 'acquired',
  'ZooKeeper session lost: stopping these tasks at once': 'sessionLost',
  'task failed': 'taskFailed',
};

export class SoakWorker {
  proc: ChildProcess | undefined;
  tail = '';
  /** Processes started in this slot. */
  starts = 0;
  private startedAt = 0;
  private buffer = '';

  constructor(
    readonly slot: string,
    private readonly configFile: string,
    private readonly events: WorkerEvent[],
  ) {}

  get pid(): number | undefined {
    return this.alive ? this.proc?.pid : undefined;
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  start(): void {
    this.starts++;
    this.startedAt = Date.now();
    this.buffer = '';
    const proc = spawn(process.execPath, [...WORKER_NODE_FLAGS, resolve(repoRoot, 'bin/tunnel.js'), 'start', '-c', this.configFile], {
      cwd: repoRoot,
      env: { ...process.env, SOAK_NODE: this.slot, TUNNEL_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const read = (chunk: Buffer) => {
      const text = chunk.toString();
      this.tail = (this.tail + text).slice(-8000);
      this.buffer += text;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { msg?: string; time?: number; task?: string };
          const what = entry.msg ? EVENTS[entry.msg] : undefined;
          if (what) this.events.push({ at: entry.time ?? Date.now(), slot: this.slot, what, ...(entry.task ? { task: entry.task } : {}) });
        } catch {
          // not a log line
        }
      }
    };
    proc.stdout!.on('data', read);
    proc.stderr!.on('data', read);
  }

  /** kill -9, resolved once the process is gone. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.alive) return;
    const exited = new Promise<void>((done) => proc.once('exit', () => done()));
    proc.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (graceful: tasks handed over), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 20_000): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.alive) return;
    const exited = new Promise<void>((done) => proc.once('exit', () => done()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** Resolves once the process started last says it joined its group. */
  async waitStarted(timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.events.some((e) => e.slot === this.slot && e.what === 'started' && e.at >= this.startedAt - 1000)) {
      if (!this.alive) throw new Error(`worker ${this.slot} exited while starting:\n${this.tail}`);
      if (Date.now() > end) throw new Error(`worker ${this.slot} did not start within ${timeoutMs} ms:\n${this.tail}`);
      await sleep(100);
    }
  }
}
