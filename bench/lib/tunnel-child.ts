// A real `tunnel start -c <config>` child process (bin/tunnel.js: the pid is the worker itself), with
// an IPC channel for the bench probe's messages and a sampler of its resident set.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BinlogPosition } from '../../core/event/index.ts';
import { repoRoot, rssOf, tmpRoot } from './common.ts';
import { tunnelUnderTest } from './tunnel-under-test.ts';
import type { ProbeMessage } from './probe.ts';
import { WORKER_NODE_FLAGS } from '../../test/helpers/node-flags.ts';

export interface ChildOptions {
  /** Name of the run (folder under bench/.tmp). */
  name: string;
  /** The body of `export default defineConfig(...)`, a TypeScript expression. */
  configExpression: string;
  /** Extra import lines for the config file (paths relative to the repo root). */
  imports: string[];
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  env?: Record<string, string>;
}

/** The import specifier of a source entry ('core/index.ts', 'sinks/redis/index.ts') for the config. */
function entrySpecifier(path: string): string {
  if (tunnelUnderTest.fromSource) return resolve(tunnelUnderTest.root, path);
  const entry = path.replace(/\/index\.ts$/, '');
  return entry === 'core' ? 'tunnel' : `tunnel/${entry}`;
}

/** Writes bench/.tmp/<name>/tunnel.config.ts and returns its path and folder. */
export function writeConfig(name: string, imports: string[], configExpression: string): { file: string; dir: string } {
  if (!existsSync(tunnelUnderTest.bin)) {
    throw new Error(`${tunnelUnderTest.bin} does not exist: build Tunnel first (npm run build), or set BENCH_FROM_SOURCE=1`);
  }
  const dir = join(tmpRoot, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'tunnel.config.ts');
  const rel = (p: string) => resolve(repoRoot, p);
  const lines = [
    `import { defineConfig } from ${JSON.stringify(entrySpecifier('core/index.ts'))};`,
    `import { benchProbe } from ${JSON.stringify(rel('bench/lib/probe.ts'))};`,
    ...imports.map((line) => line.replace(/from '([^']+)'/, (_, p: string) => `from ${JSON.stringify(entrySpecifier(p))}`)),
    `export default defineConfig(${configExpression});`,
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return { file, dir };
}

export class TunnelChild {
  readonly proc: ChildProcess;
  output = '';
  readonly messages: ProbeMessage[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  peakSampledMB = 0;
  private sampler: NodeJS.Timeout;
  private listeners = new Set<(m: ProbeMessage) => void>();
  readonly spawnedAt = Date.now();

  constructor(configFile: string, options: { nodeFlags?: string[]; env?: Record<string, string>; cwd?: string } = {}) {
    this.proc = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...(options.nodeFlags ?? []), tunnelUnderTest.bin, 'start', '-c', configFile], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, TUNNEL_LOG_FORMAT: 'json', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.proc.on('message', (m: ProbeMessage) => {
      this.messages.push(m);
      for (const l of this.listeners) l(m);
    });
    this.exited = new Promise((done) => this.proc.on('exit', (code, signal) => done({ code, signal })));
    this.sampler = setInterval(() => {
      const r = rssOf(this.proc.pid!);
      if (r) this.peakSampledMB = Math.max(this.peakSampledMB, r.rssMB);
    }, 50);
    void this.exited.then(() => clearInterval(this.sampler));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  onMessage(listener: (m: ProbeMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the first message (already received or later) that matches; rejects if the child exits first. */
  waitFor<T extends ProbeMessage>(match: (m: ProbeMessage) => m is T, timeoutMs: number, what: string): Promise<T>;
  waitFor(match: (m: ProbeMessage) => boolean, timeoutMs: number, what: string): Promise<ProbeMessage>;
  waitFor(match: (m: ProbeMessage) => boolean, timeoutMs: number, what: string): Promise<ProbeMessage> {
    const found = this.messages.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolveWait, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${what}: not within ${timeoutMs} ms; child output:\n${this.output.slice(-3000)}`));
      }, timeoutMs);
      const off = this.onMessage((m) => {
        if (!match(m)) return;
        clearTimeout(timer);
        off();
        resolveWait(m);
      });
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        off();
        reject(new Error(`${what}: tunnel exited (${signal ?? code}) first; output:\n${this.output.slice(-3000)}`));
      });
    });
  }

  waitCommitted(end: BinlogPosition, timeoutMs: number): Promise<ProbeMessage & { type: 'committed' }> {
    return this.waitFor(
      (m): m is ProbeMessage & { type: 'committed' } => m.type === 'committed' && (m.file > end.file || (m.file === end.file && m.offset >= end.offset)),
      timeoutMs,
      `committed position ${end.file}:${end.offset}`,
    );
  }

  /** Graceful stop (SIGTERM: drain, commit, exit), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    // The open IPC channel would keep the child's event loop alive after `tunnel start` returns:
    // close it from this side once the task has stopped.
    const off = this.onMessage((m) => {
      if (m.type === 'taskStop') setTimeout(() => this.proc.connected && this.proc.disconnect(), 200);
    });
    await this.exited;
    off();
    clearTimeout(timer);
  }
}
