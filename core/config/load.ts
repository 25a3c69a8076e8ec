import { existsSync } from 'node:fs';
import { extname, join, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors/index.ts';
import { packageInfo } from '../package/index.ts';
import { resolveConfig } from './resolve.ts';
import type { ResolvedConfig } from './schema.ts';

/** The names `tunnel` looks for in the current directory when no file is given, in this order. */
export const CONFIG_FILE_NAMES = ['tunnel.config.ts', 'tunnel.config.mts', 'tunnel.config.js', 'tunnel.config.mjs'] as const;

const LOADABLE = new Set(['.ts', '.mts', '.js', '.mjs']);

/** The config file of a directory: the first of CONFIG_FILE_NAMES that exists there. */
export function findConfigFile(dir = process.cwd()): string | undefined {
  return CONFIG_FILE_NAMES.map((name) => join(dir, name)).find((path) => existsSync(path));
}

/**
 * Load a config file (`.ts`, `.mts`, `.js` or `.mjs`, from any directory, with or without a
 * package.json beside it) and resolve it. Without `file`, the current directory's config is used.
 *
 * The installed package loads it with jiti: TypeScript is compiled in memory for this file and the
 * files it imports (no loader hook for the whole process, no cache written beside the config), and
 * `tunnel` / `tunnel/...` imports resolve to the Tunnel that is running, so the config's plugins, sinks
 * and errors are the same classes the runtime checks. JavaScript that is already ESM is imported by
 * Node itself. Running from source (development, under tsx) the config is imported natively, so it
 * shares the sources the command runs.
 */
export async function loadConfig(file?: string): Promise<{ config: ResolvedConfig; file: string }> {
  const path = file === undefined ? findConfigFile() : resolvePath(file);
  if (path === undefined) {
    throw new ConfigError(
      `no config file in ${process.cwd()} (looked for ${CONFIG_FILE_NAMES.join(', ')}); name one with -c <file> or TUNNEL_CONFIG, or write one with \`tunnel init\``,
    );
  }
  if (!existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
  if (!LOADABLE.has(extname(path))) {
    throw new ConfigError(`cannot load ${path}: a config file is TypeScript or JavaScript (.ts, .mts, .js or .mjs)`);
  }
  let exported: unknown;
  try {
    exported = await importDefault(path);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(`cannot load ${path}: ${reason}`);
  }
  if (typeof exported === 'function') exported = await (exported as () => unknown)();
  if (exported === undefined) throw new ConfigError(`${path} has no default export: write \`export default defineConfig({...})\``);
  return { config: resolveConfig(exported), file: path };
}

async function importDefault(path: string): Promise<unknown> {
  const info = packageInfo();
  if (info.fromSource) {
    return ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, {
    alias: { ...info.entries },
    // a config is read once per command: an on-disk transpile cache would only leave files behind
    fsCache: false,
    moduleCache: false,
    interopDefault: false,
  });
  return ((await jiti.import(path)) as { default?: unknown }).default;
}
