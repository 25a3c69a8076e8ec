/**
 * A test seam, off unless the environment sets it: a pause of the whole process exactly between a
 * sink dispatcher's session check (`canWrite`) and its write, the gap that only fencing at the sink
 * closes (docs/reliability.md). test/integration/cluster-fencing.test.ts uses it.
 *
 * `TUNNEL_TEST_PAUSE_BEFORE_WRITE=<dir>`: while `<dir>/arm` exists, holding sink names separated by
 * commas, the next write of each named sink waits right after its session check. Once all of them
 * wait, the process deletes the arm file, writes its pid to `<dir>/paused` and stops itself
 * (SIGSTOP): frozen with every one of those writes between its check and its bytes. After SIGCONT
 * the writes go on at once, and without their abort signal, as if the pause had come after the
 * sink's last look at it: what reaches the servers then is what the fences in the sinks must refuse.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const WRITE_PAUSE_ENV = 'TUNNEL_TEST_PAUSE_BEFORE_WRITE';

/** Called between the session check and the write; a promise when this write is held (then written without its signal). */
export type BeforeWrite = (sink: string) => Promise<void> | undefined;

/** The seam when the environment asks for it, else undefined (and nothing is checked on any write). */
export function writePauseFromEnv(env: NodeJS.ProcessEnv = process.env): BeforeWrite | undefined {
  const dir = env[WRITE_PAUSE_ENV];
  if (!dir) return undefined;
  const arm = join(dir, 'arm');
  const waiting = new Map<string, () => void>();
  return (sink) => {
    if (!existsSync(arm)) return undefined;
    const wanted = readFileSync(arm, 'utf8')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    if (!wanted.includes(sink) || waiting.has(sink)) return undefined;
    const held = new Promise<void>((resolve) => waiting.set(sink, resolve));
    if (wanted.every((name) => waiting.has(name))) {
      rmSync(arm, { force: true });
      writeFileSync(join(dir, 'paused'), String(process.pid));
      process.kill(process.pid, 'SIGSTOP');
      // running again (SIGCONT): every held write goes on in this same tick
      for (const release of waiting.values()) release();
      waiting.clear();
    }
    return held;
  };
}
