import { z } from 'zod';
import { ConfigError } from '../../core/errors/index.ts';

const positiveInt = z.number().int().positive();

const isHttpUrl = (value: string): boolean => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
};

export const webhookOptionsSchema = z
  .object({
    name: z.string().min(1).default('webhook'),
    url: z.string({ error: 'expected a URL' }).refine(isHttpUrl, { error: 'expected an http:// or https:// URL' }),
    /** Shared secret(s) of the HMAC-SHA256 signature; several sign at once during a rotation. */
    secret: z.union([z.string().min(16), z.array(z.string().min(16)).min(1)], { error: 'expected a secret of at least 16 characters, or a list of them' }),
    /** Extra request headers (e.g. Authorization); never logged. */
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'expected a header name'), z.string()).default({}),
    /** 'json': one JSON array of events (application/json); 'ndjson': one event per line (application/x-ndjson). */
    format: z.enum(['json', 'ndjson']).default('json'),
    /** 'batch': one POST per batch; 'event': one POST per event, in order (the body is one event). */
    mode: z.enum(['batch', 'event']).default('batch'),
    /** Per request, from sending to the end of the response. */
    timeoutMs: positiveInt.default(10_000),
    /** Immediate retries inside one write, before the runtime's own backoff takes over. */
    retries: z.number().int().nonnegative().max(20).default(3),
    /** First backoff delay; doubles per retry, with full jitter, capped at maxRetryDelayMs. */
    retryDelayMs: positiveInt.default(200),
    maxRetryDelayMs: positiveInt.default(5_000),
    /** Most events in one POST (batch mode); a larger batch is sent in several, in order. */
    maxEvents: positiveInt.default(500),
    /** Most estimated body bytes in one POST (batch mode). */
    maxBytes: positiveInt.default(4 * 1024 * 1024),
    serialize: z
      .union([z.literal(false), z.object({ threshold: z.number().nonnegative().optional(), minItemBytes: z.number().nonnegative().optional(), maxThreads: positiveInt.optional() }).strict()])
      .optional(),
    batch: z.object({ maxEvents: positiveInt.optional(), maxBytes: positiveInt.optional(), maxWaitMs: z.number().int().nonnegative().optional() }).strict().optional(),
  })
  .strict();

export type WebhookOptions = z.input<typeof webhookOptionsSchema>;
export type ResolvedWebhookOptions = z.output<typeof webhookOptionsSchema>;

export function parseWebhookOptions(input: unknown): ResolvedWebhookOptions {
  const result = webhookOptionsSchema.safeParse(input ?? {}, { reportInput: true });
  if (!result.success) throw new ConfigError(formatOptionIssues('webhook', result.error.issues));
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// Messages: `webhook.url: expected an http:// or https:// URL, got "ftp://x"`. Secrets and header
// values never show.

type Issue = z.core.$ZodIssue;

function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((part) => typeof part === 'string' && /secret|pass|token|headers/i.test(part));
}

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
      const mismatch = (sub: Issue) =>
        (sub.path.length === 0 && (sub.code === 'invalid_type' || sub.code === 'invalid_value')) ||
        sub.code === 'unrecognized_keys' ||
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

export function formatOptionIssues(prefix: string, issues: readonly Issue[]): string {
  return issues.flatMap((issue) => formatIssue(prefix, issue, [])).join('; ');
}
