import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { WORKER_NODE_FLAGS } from './node-flags.ts';

const root = resolve(import.meta.dirname, '../..');

/**
 * A real long-running `tunnel <command>` process (`start`, or `snapshot <task>` which streams on
 * afterwards), for crash and shutdown tests: output kept, JSON log lines parsed. `node bin/tunnel.js`
 * directly, so kill -9 and SIGSTOP hit Tunnel itself.
 */
export class TunnelCommand {
  readonly child: ChildProcess;
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [...WORKER_NODE_FLAGS, resolve(root, 'bin/tunnel.js'), ...args], {
      cwd: root,
      env: { ...process.env, TUNNEL_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((done) => this.child.on('exit', (code, signal) => done({ code, signal })));
  }

  /** JSON log lines written so far (a line still being written is skipped). */
  logs(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.output.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  async waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs().find(match);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`tunnel exited (${this.child.exitCode}) before the log line appeared:\n${this.output.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`log line not seen in ${timeoutMs} ms:\n${this.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

/** `tunnel start -c <config>`. */
export class TunnelProcess extends TunnelCommand {
  constructor(configFile: string, env: Record<string, string> = {}, args: string[] = []) {
    super(['start', '-c', configFile, ...args], env);
  }
}
