import type { ResolvedConfig } from '../config/schema.ts';

/**
 * The one rule for what is secret. Every redaction uses it: the logger (pino's redact paths), the
 * messages about bad options, `tunnel validate`'s printed config and the text the status endpoint
 * shows (error messages).
 */
export const REDACTED = '[redacted]';

/**
 * Field names whose values are secrets, compared without regard to case. A name that contains one is
 * secret too (`sentinelPassword`, `x-api-key`); the logger, which matches exact keys, uses them as
 * listed.
 */
export const SECRET_FIELD_NAMES = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'apiKey',
  'api_key',
  'api-key',
  'authorization',
  'auth',
  'credential',
  'credentials',
  'bearer',
] as const;

const LOWERCASE_NAMES = SECRET_FIELD_NAMES.map((name) => name.toLowerCase());

/** Whether a field of this name holds a secret. */
export function isSecretField(name: string): boolean {
  const lower = name.toLowerCase();
  return LOWERCASE_NAMES.some((secret) => lower.includes(secret));
}

/**
 * Whether the value at this path of options or config is secret: a secret field anywhere on the path,
 * any HTTP header value (an Authorization or API key header may have any name), or a TLS private key
 * (`tls.key`; a row `key` template is no secret).
 */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((part) => typeof part === 'string' && (isSecretField(part) || part === 'headers')) || (path.includes('tls') && path.at(-1) === 'key');
}

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]*):([^\s/@]+)@/gi;
const escape = (name: string) => name.replace(/[-_]/g, '[-_]?');
const SECRET_PAIRS = new RegExp(
  `\\b(${[...LOWERCASE_NAMES]
    .sort((a, b) => b.length - a.length)
    .map(escape)
    .join('|')})(["']?\\s*[:=]\\s*["']?)(bearer\\s+|basic\\s+|apikey\\s+)?[^\\s"',;&}]+`,
  'gi',
);

/** `scheme://user:password@host` → `scheme://user:[redacted]@host`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
}

/**
 * Text that may carry secrets (an error message) made safe to show: the known secret values, URL
 * credentials, and `password=…`-style pairs of the secret field names are replaced.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  out = redactUrlCredentials(out);
  out = out.replace(SECRET_PAIRS, (_m, key: string, sep: string, scheme: string | undefined) => `${key}${sep}${scheme ?? ''}${REDACTED}`);
  return out;
}

/** Secret values of a config: source passwords, the status token, ZooKeeper auth. */
export function configSecrets(config: ResolvedConfig): string[] {
  const secrets = new Set<string>();
  for (const task of config.tasks) if (task.source.password) secrets.add(task.source.password);
  if (config.status.token) secrets.add(config.status.token);
  const auth = config.cluster?.zookeeper.auth;
  if (auth) secrets.add(auth.password);
  // Short values (e.g. a one-letter test password) would mangle ordinary words; they still never
  // appear in reports because no report field carries configuration values.
  return [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}
