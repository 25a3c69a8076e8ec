import type { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import { isSecretPath } from '../redact/index.ts';

/**
 * The one formatter of zod issues, for the config (`tasks[0].source.port: expected number, got "abc"`)
 * and for the options of sinks and plugins (`webhook.url: expected an http:// or https:// URL, got
 * "ftp://x"`): each issue is one line naming the field path, what was expected and what was given,
 * never the value of a secret field.
 */
type Issue = z.core.$ZodIssue;

export interface IssueFormat {
  /** What the paths start with: `webhook` gives `webhook.url`; '' gives `tasks[0].name`. */
  root?: string;
  /** Said after "unknown field", e.g. where the allowed fields are listed. */
  unknownFieldHint?: string;
}

/** Most issues listed in one message; the count of the rest follows them. */
const MOST_LISTED = 5;

export function formatPath(root: string, path: readonly PropertyKey[]): string {
  let out = root;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(config)' : out;
}

/** A short description of a given value: the value itself when short, else its kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') {
    const name = (value as { name?: unknown }).name;
    return typeof name === 'string' ? `an object named "${name}"` : 'an object';
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function given(value: unknown, path: readonly PropertyKey[]): string {
  return isSecretPath(path) ? 'a value that is not shown (secret field)' : describeValue(value);
}

/** Whether a union branch failed on its shape (wrong type or literal at its root, unknown or missing field). */
function shapeMismatch(sub: Issue): boolean {
  return (
    (sub.path.length === 0 && (sub.code === 'invalid_type' || sub.code === 'invalid_value')) ||
    sub.code === 'unrecognized_keys' ||
    (sub.code === 'custom' && (sub as { params?: { typeCheck?: boolean } }).params?.typeCheck === true) ||
    (sub.code === 'invalid_type' && (sub as { input?: unknown }).input === undefined)
  );
}

function expectedOf(first: Issue): string {
  if (first.code === 'invalid_value') return first.values.map((v) => JSON.stringify(v)).join(' or ');
  if (first.code === 'invalid_type') return first.expected;
  return first.message.replace(/^Invalid input: /, '');
}

function formatIssue(issue: Issue, base: readonly PropertyKey[], format: IssueFormat): string[] {
  const root = format.root ?? '';
  const path = [...base, ...issue.path];
  const where = formatPath(root, path);
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => `${formatPath(root, [...path, key])}: unknown field${format.unknownFieldHint ? ` (${format.unknownFieldHint})` : ''}`);
    case 'invalid_union': {
      const discriminator = (issue as { discriminator?: string; options?: unknown[] }).discriminator;
      const options = (issue as { options?: unknown[] }).options;
      if (discriminator !== undefined && options) {
        const value = input && typeof input === 'object' ? (input as Record<string, unknown>)[discriminator] : undefined;
        return [`${where}: expected one of ${options.map((v) => JSON.stringify(v)).join(', ')}, got ${given(value, path)}`];
      }
      // Dive into the one branch whose shape matched; otherwise say what the branches expect.
      const matched = issue.errors.filter((branch) => !branch.some(shapeMismatch));
      if (matched.length === 1) return (matched[0] as Issue[]).flatMap((sub) => formatIssue(sub, path, format));
      if (!issue.message.startsWith('Invalid input')) return [`${where}: ${issue.message}, got ${given(input, path)}`];
      const expected = issue.errors.map((branch) => branch[0]).filter((first): first is Issue => first !== undefined);
      return [`${where}: expected ${[...new Set(expected.map(expectedOf))].join(' or ')}, got ${given(input, path)}`];
    }
    case 'invalid_type': {
      if (input === undefined) return [`${where}: missing, expected ${issue.expected}`];
      const message = issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
      return [`${where}: ${message}, got ${given(input, path)}`];
    }
    case 'invalid_value':
      return [`${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${given(input, path)}`];
    default:
      return [`${where}: ${issue.message.replace(/^Invalid input: /, '')}, got ${given(input, path)}`];
  }
}

/** One line per issue (at most MOST_LISTED, then how many more). Parse with `{ reportInput: true }`. */
export function formatIssues(issues: readonly Issue[], format: IssueFormat = {}): string {
  const lines = issues.flatMap((issue) => formatIssue(issue, [], format));
  const more = lines.length > MOST_LISTED ? `\n(and ${lines.length - MOST_LISTED} more)` : '';
  return lines.slice(0, MOST_LISTED).join('\n') + more;
}

/**
 * Validate options of a sink or plugin (`root` names it, e.g. `webhook`): the parsed value, or a
 * ConfigError with one line per issue. Absent options are `{}`.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, root: string): z.output<S> {
  const result = schema.safeParse(input ?? {}, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues, { root }));
  return result.data;
}
