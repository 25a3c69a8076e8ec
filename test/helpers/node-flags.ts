// The Node flags the `tunnel` command runs with, read from its shebang (bin/tunnel.ts, the one home
// of them): tests and benchmarks that start a worker as `node <script>` pass the same ones, so the
// memory they measure is the memory a deployed worker has.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** The flags after `node` in a script's `#!/usr/bin/env -S node …` line. */
export function shebangNodeFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0]!;
  const match = /^#!\/usr\/bin\/env(?: -S)? node((?: --?[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (!match) throw new Error(`${file}: the first line is not a node shebang: ${first}`);
  return match[1]!.trim().split(/\s+/).filter(Boolean);
}

/** The worker's Node flags (bin/tunnel.ts). */
export const WORKER_NODE_FLAGS: readonly string[] = shebangNodeFlags(resolve(root, 'bin/tunnel.ts'));
