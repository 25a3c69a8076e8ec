import type { ResolvedConfig } from '../config/index.ts';

/**
 * Secrets never appear in status output, metrics or error text shown by the status endpoint.
 * Reports are built field by field (a config object is never serialized wholesale); text that
 * may carry secrets (error messages) goes through `redactText`: known secret values of the
 * config, credentials in URLs, and `password=…`-style pairs are replaced.
 */
export const REDACTED = '[redacted]';

const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:/@]+):([^\s/@]+)@/gi;
const SECRET_PAIRS =
  /\b(password|passwd|pwd|secret|token|api[_-]?key|apikey|authorization|auth|credentials?)(["']?\s*[:=]\s*["']?)(bearer\s+|basic\s+|apikey\s+)?[^\s"',;&}]+/gi;

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

export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  out = out.replace(URL_CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
  out = out.replace(SECRET_PAIRS, (_m, key: string, sep: string, scheme: string | undefined) => `${key}${sep}${scheme ?? ''}${REDACTED}`);
  return out;
}
