import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What this copy of Tunnel is: where its package.json is, its version, and its public entry points
 * (the `exports` map), whether it runs from the built `dist/` or from the TypeScript sources.
 */
export interface PackageInfo {
  /** The directory of Tunnel's package.json. */
  readonly root: string;
  readonly name: string;
  readonly version: string;
  /** True when this code is the TypeScript source (development in Tunnel's repository). */
  readonly fromSource: boolean;
  /**
   * Public import specifier (`tunnel`, `tunnel/sinks/redis`, ...) → the absolute file this copy
   * serves it from: the `exports` target in `dist/`, or its source `.ts` when running from source.
   */
  readonly entries: Readonly<Record<string, string>>;
}

interface PackageJson {
  name?: string;
  version?: string;
  exports?: Record<string, string | { default?: string; import?: string }>;
}

let cached: PackageInfo | undefined;

export function packageInfo(): PackageInfo {
  if (cached) return cached;
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  let dir = dirname(here);
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${here}`);
    dir = parent;
  }
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  const name = pkg.name ?? 'tunnel';
  const entries: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports ?? {})) {
    const file = typeof target === 'string' ? target : (target.import ?? target.default);
    if (!file || !file.endsWith('.js')) continue; // ./package.json and the like
    const specifier = subpath === '.' ? name : `${name}/${subpath.replace(/^\.\//, '')}`;
    // dist/<path>.js is built from <path>.ts
    entries[specifier] = fromSource ? resolve(dir, file.replace(/^\.\/dist\//, './').replace(/\.js$/, '.ts')) : resolve(dir, file);
  }
  cached = Object.freeze({ root: dir, name, version: pkg.version ?? '0.0.0', fromSource, entries: Object.freeze(entries) });
  return cached;
}
