// What the worker's young-generation flag (bin/tunnel.ts's shebang: --max-semi-space-size=16) costs
// and saves: Redis catch-ups on MariaDB with the worker's flags and with
// --max-semi-space-size=SEMI_SPACE_MB (64, Node 24's own default) after them, interleaved, `runs` of
// each; rate, peak RSS and CPU per 100k row changes side by side, run i of each side paired.
import { WORKER_NODE_FLAGS } from '../../test/helpers/node-flags.ts';
import type { CatchupRun } from './catchup.ts';
import { spread } from './common.ts';
import { SEMI_SPACE_MB, type SemiSpaceFigures, type SemiSpaceSide } from './figures.ts';

/** One Redis catch-up on MariaDB with these extra worker flags (after the worker's own); undefined when it failed twice. */
export type RedisCatchup = (label: string, what: string, nodeFlags: string[]) => Promise<CatchupRun | undefined>;

export async function semiSpacePhase(runs: number, catchup: RedisCatchup): Promise<SemiSpaceFigures | undefined> {
  const wide = [`--max-semi-space-size=${SEMI_SPACE_MB}`];
  const done: { worker: CatchupRun[]; nodeDefault: CatchupRun[] } = { worker: [], nodeDefault: [] };
  for (let run = 1; run <= runs; run++) {
    const worker = await catchup(`semi-worker-${run}`, `catch-up redis (the worker's flags) run ${run}`, []);
    const nodeDefault = await catchup(`semi-${SEMI_SPACE_MB}-${run}`, `catch-up redis (${wide[0]}) run ${run}`, wide);
    // only complete pairs: the ratio pairs run i with run i
    if (worker && nodeDefault) {
      done.worker.push(worker);
      done.nodeDefault.push(nodeDefault);
    }
  }
  if (done.worker.length === 0) return undefined;
  const side = (r: CatchupRun[], flags: string[]): SemiSpaceSide => ({
    flags,
    rowsPerSec: spread(r.map((x) => x.rowsPerSec)),
    peakRssMB: spread(r.map((x) => x.peakRssMB)),
    cpuPer100k: spread(r.map((x) => (x.workerCpuS / (x.rowsPerSec * (x.ms / 1000))) * 100_000)),
  });
  const pairs = done.worker.map((w, i) => [w, done.nodeDefault[i]!] as const);
  return {
    semiSpaceMB: SEMI_SPACE_MB,
    worker: side(done.worker, [...WORKER_NODE_FLAGS]),
    nodeDefault: side(done.nodeDefault, [...WORKER_NODE_FLAGS, ...wide]),
    rateRatio: spread(pairs.map(([w, d]) => w.rowsPerSec / d.rowsPerSec)),
    rssSavedMB: spread(pairs.map(([w, d]) => d.peakRssMB - w.peakRssMB)),
  };
}
