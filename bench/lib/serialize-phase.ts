// The serialization phase of `npm run bench`: bench/serialize.ts in its full mode, in a child process,
// its JSON result turned into spreads per case.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { benchRoot, repoRoot, spread, type Spread } from './common.ts';

export interface SerializeCase {
  text: string;
  rowKB: number;
  bodyKB: number;
  off: Spread;
  forced: Spread;
  defaults: Spread;
}

function runChild(args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      process.stderr.write(c);
    });
    child.on('close', (code) => (code === 0 ? ok(out) : fail(new Error(`${args[0]} exited ${code}: ${err.slice(-2000)}`))));
  });
}

export async function runSerialize(): Promise<SerializeCase[]> {
  type Row = {
    text: string;
    rowBytes: number;
    batch: number;
    batchKB: number;
    e2eRuns: { off: number[]; forced: number[]; auto: number[] };
  };
  // bench/serialize.ts in its full mode (3 repeats of every case, 24 MB of rows per measurement: its
  // quick mode's 8 MB, one repeat, made the 1 MB-body cases unstable); the 1 KB and 64 KB rows at
  // 64 KB and 1 MB bodies go into the table, every case into the JSON
  const out = await runChild([resolve(benchRoot, 'serialize.ts')]);
  const results = (JSON.parse(out.trim().split('\n').pop()!) as { results: Row[] }).results;
  return results.map((r) => ({
    text: r.text,
    rowKB: Math.round(r.rowBytes / 1024),
    bodyKB: r.batchKB,
    off: spread(r.e2eRuns.off),
    forced: spread(r.e2eRuns.forced),
    defaults: spread(r.e2eRuns.auto),
  }));
}
