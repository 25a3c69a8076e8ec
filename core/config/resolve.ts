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

/** Freeze plain data only: plugin instances keep their own mutable state. */
function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype) return value;
  for (const child of Object.values(value as object)) deepFreeze(child);
  return Object.freeze(value);
}
