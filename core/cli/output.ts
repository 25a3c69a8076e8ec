import { TunnelError } from '../errors/index.ts';
import { REDACTED, isSecretField } from '../redact/index.ts';

/** One clear line for a person; a stack trace only when TUNNEL_DEBUG asks for it. */
export function reportError(error: unknown): number {
  if (error instanceof TunnelError) {
    process.stderr.write(`tunnel: ${error.message}\n  (${error.code})\n`);
  } else if (error instanceof Error) {
    process.stderr.write(`tunnel: ${error.message}\n`);
  } else {
    process.stderr.write(`tunnel: ${String(error)}\n`);
  }
  if (process.env.TUNNEL_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 1;
}

/** Render rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** A copy of resolved config data safe to print: secrets replaced, plugins shown by name. */
export function printable(value: unknown, key = ''): unknown {
  if (isSecretField(key) && value !== undefined && value !== null && typeof value !== 'object') return REDACTED;
  if (Array.isArray(value)) return value.map((item) => printable(item));
  if (value && typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return `<${(value as { name?: string }).name ?? proto?.constructor?.name ?? 'object'}>`;
    if (typeof (value as { apply?: unknown }).apply === 'function') return `<plugin ${(value as { name?: string }).name}>`;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(v, k)]));
  }
  if (typeof value === 'function') return '<function>';
  return value;
}
