import { pathToFileURL } from 'node:url';
import { resolve as resolvePath } from 'node:path';
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors/index.ts';
import { formatIssues } from './issues.ts';
import { configSchema, type ResolvedConfig } from './schema.ts';

const UNKNOWN_FIELD_HINT = 'check the spelling; docs/configuration.md lists the fields';

/** Validate once, at load: defaults applied, frozen, every error naming its field path. */
export function resolveConfig(input: unknown): ResolvedConfig {
  const result = configSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(`invalid config: ${formatIssues(result.error.issues, { unknownFieldHint: UNKNOWN_FIELD_HINT })}`);
  return deepFreeze(result.data);
}

/** Load `tunnel.config.ts` (TypeScript, no build step: the CLI runs under tsx) and resolve it. */
export async function loadConfig(file = 'tunnel.config.ts'): Promise<{ config: ResolvedConfig; file: string }> {
  const path = resolvePath(file);
  if (!existsSync(path)) throw new ConfigError(`config file not found: ${path}`);
  let exported: unknown;
  try {
    const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
    exported = module.default;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError(`cannot load ${path}: ${reason}`);
  }
  if (typeof exported === 'function') exported = await (exported as () => unknown)();
  if (exported === undefined) throw new ConfigError(`${path} has no default export: write \`export default defineConfig({...})\``);
  return { config: resolveConfig(exported), file: path };
}

/** Freeze plain data only: plugin instances keep their own mutable state. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype) return value;
  for (const child of Object.values(value as object)) deepFreeze(child);
  return Object.freeze(value);
}
