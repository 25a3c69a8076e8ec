import type { z } from 'zod';
import { isSecretPath } from '../redact/index.ts';

type Issue = z.core.$ZodIssue;

function formatPath(prefix: string, path: readonly PropertyKey[]): string {
  let out = prefix;
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `.${String(part)}`;
  return out;
}

function describe(value: unknown, path: readonly PropertyKey[]): string {
  if (isSecretPath(path)) return 'a value that is not shown (secret field)';
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function formatIssue(prefix: string, issue: Issue, base: readonly PropertyKey[]): string[] {
  const path = [...base, ...issue.path];
  const where = formatPath(prefix, path);
  const got = describe((issue as { input?: unknown }).input, path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => `${formatPath(prefix, [...path, key])}: unknown option`);
    case 'invalid_union': {
      // Dive into the one branch whose shape matched (no type or literal mismatch at its root, no
      // unknown or missing field); otherwise the union's own message says what is expected.
      const mismatch = (sub: Issue) =>
        (sub.path.length === 0 && (sub.code === 'invalid_type' || sub.code === 'invalid_value')) ||
        sub.code === 'unrecognized_keys' ||
        (sub.code === 'custom' && (sub as { params?: { typeCheck?: boolean } }).params?.typeCheck === true) ||
        (sub.code === 'invalid_type' && (sub as { input?: unknown }).input === undefined);
      const matched = issue.errors.filter((branch) => !branch.some(mismatch));
      if (matched.length === 1) return (matched[0] as Issue[]).flatMap((sub) => formatIssue(prefix, sub, path));
      return [`${where}: ${issue.message}, got ${got}`];
    }
    case 'invalid_type': {
      if ((issue as { input?: unknown }).input === undefined) return [`${where}: missing, expected ${issue.expected}`];
      const message = issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
      return [`${where}: ${message}, got ${got}`];
    }
    case 'invalid_value':
      return [`${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`];
    default:
      return [`${where}: ${issue.message.replace(/^Invalid input: /, '')}, got ${got}`];
  }
}

/**
 * Messages for a plugin's options parsed with `{ reportInput: true }`, e.g.
 * `elasticsearch.node: expected a URL, got 42`. Secret fields never show their value.
 */
export function formatOptionIssues(prefix: string, issues: readonly Issue[]): string {
  return issues.flatMap((issue) => formatIssue(prefix, issue, [])).join('; ');
}
