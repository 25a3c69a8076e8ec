import { pathToFileURL } from 'node:url';
import { resolve as resolvePath } from 'node:path';
import { existsSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import { configSchema, type ResolvedConfig } from './schema.ts';

/** Validate once, at load: defaults applied, frozen, every error naming its field path. */
export function resolveConfig(input: unknown): ResolvedConfig {
  const result = configSchema.safeParse(input);
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, input));
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

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(config)' : out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') {
    const name = (value as { name?: unknown }).name;
    return typeof name === 'string' ? `an object named "${name}"` : 'an object';
  }
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function formatIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = formatPath(issue.path);
  const got = valueAt(input, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys
        .map((key) => `${formatPath([...issue.path, key])}: unknown field (check the spelling; allowed fields are in the README's configuration reference)`)
        .join('\n');
    case 'invalid_type':
      return got === undefined ? `${path}: missing, expected ${issue.expected}` : `${path}: expected ${issue.expected}, got ${describeValue(got)}`;
    case 'invalid_union': {
      const options = issue.errors
        .map((branch) => branch[0])
        .filter((first): first is z.core.$ZodIssue => first !== undefined)
        .map((first) =>
          first.code === 'invalid_value'
            ? first.values.map((v) => JSON.stringify(v)).join(' or ')
            : first.code === 'invalid_type'
              ? first.expected
              : first.message,
        );
      return `${path}: expected ${[...new Set(options)].join(' or ')}, got ${describeValue(got)}`;
    }
    case 'invalid_value':
      return `${path}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(got)}`;
    case 'too_small':
    case 'too_big':
    case 'invalid_format':
    case 'custom':
    default: {
      const message = issue.message.replace(/^Invalid input: /, '');
      return `${path}: ${message}, got ${describeValue(got)}`;
    }
  }
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string {
  const lines = issues.slice(0, 5).map((issue) => formatIssue(issue, input));
  const more = issues.length > 5 ? `\n(and ${issues.length - 5} more)` : '';
  return `invalid config: ${lines.join('\n')}${more}`;
}

/** Freeze plain data only: plugin instances keep their own mutable state. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype) return value;
  for (const child of Object.values(value as object)) deepFreeze(child);
  return Object.freeze(value);
}
