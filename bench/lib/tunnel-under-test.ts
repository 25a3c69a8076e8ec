// Which Tunnel the benchmark measures (the `tunnel start` children, the decode counter and the
// failover workers all run the same one).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './common.ts';

/**
 * Which Tunnel the children run. By default the package build, dist/bin/tunnel.js (what a team
 * installs: no TypeScript compiler at start), with the config importing `tunnel` and
 * `tunnel/sinks/...`, which the built command resolves to its own dist/. BENCH_FROM_SOURCE=1 runs the
 * sources under tsx instead (bin/tunnel.js, the config importing them by path). BENCH_TUNNEL_ROOT=<dir>
 * runs the build of another checkout (or unpacked package) with this driver: before/after figures of
 * a change, measured the same way.
 */
export const tunnelUnderTest = (() => {
  const fromSource = process.env.BENCH_FROM_SOURCE === '1';
  const root = resolve(process.env.BENCH_TUNNEL_ROOT ?? repoRoot);
  const bin = fromSource ? resolve(root, 'bin/tunnel.js') : resolve(root, 'dist/bin/tunnel.js');
  return { fromSource, root, bin };
})();

/** The module URL of Tunnel's public API in the Tunnel under test (the decode counter imports it). */
export function tunnelApiUrl(): string {
  const { fromSource, root } = tunnelUnderTest;
  return pathToFileURL(resolve(root, fromSource ? 'core/index.ts' : 'dist/core/index.js')).href;
}
