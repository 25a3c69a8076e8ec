import { createHmac, timingSafeEqual } from 'node:crypto';

/** Unix seconds at which the request was signed. */
export const TIMESTAMP_HEADER = 'x-tunnel-timestamp';
/**
 * `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>,v2=<hex HMAC-SHA256(secret, v2 text)>`, each
 * once per secret when several sign (a rotation). v2 covers the fence headers too (signedText).
 */
export const SIGNATURE_HEADER = 'x-tunnel-signature';
/** The task whose changes the request carries. */
export const TASK_HEADER = 'x-tunnel-task';
/** The epoch of the sender's ownership of the task (docs/architecture.md, "Fencing at the sink"). */
export const EPOCH_HEADER = 'x-tunnel-epoch';
/** The binlog position of the last change in the body, `file:offset` (for people and logs). */
export const POSITION_HEADER = 'x-tunnel-position';
/** The versions (core/event/position-version.ts) of the first and last change in the body: `<first>-<last>`. */
export const VERSION_HEADER = 'x-tunnel-version';

/** What a v2 signature covers besides the timestamp and the body. */
export interface SignedFence {
  task: string;
  epoch: number | string;
  position: string;
  version: string;
}

/** The signature of one request: HMAC-SHA256 over `${timestamp}.${body}`, hex. */
export function signWebhookBody(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(body);
  return hmac.digest('hex');
}

/**
 * The v2 signature: HMAC-SHA256 over "v2", the timestamp, the task, the epoch, the position and the
 * version, each followed by a newline (no header value holds one), then the body; hex.
 */
export function signWebhookRequest(secret: string, timestamp: number | string, fence: SignedFence, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`v2\n${timestamp}\n${fence.task}\n${fence.epoch}\n${fence.position}\n${fence.version}\n`);
  hmac.update(body);
  return hmac.digest('hex');
}

/** The signature header value for a request signed with each of the secrets (rotation); v2 when the fence is given. */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: Uint8Array, fence?: SignedFence): string {
  const parts: string[] = [];
  for (const secret of secrets) {
    parts.push(`v1=${signWebhookBody(secret, timestamp, body)}`);
    if (fence) parts.push(`v2=${signWebhookRequest(secret, timestamp, fence, body)}`);
  }
  return parts.join(',');
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

export function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const value = bag[name] ?? Object.entries(bag).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/** The fence headers of a request, when it has all four. */
export function fenceHeaders(headers: HeaderBag): SignedFence | undefined {
  const task = header(headers, TASK_HEADER);
  const epoch = header(headers, EPOCH_HEADER);
  const position = header(headers, POSITION_HEADER);
  const version = header(headers, VERSION_HEADER);
  if (task === undefined || epoch === undefined || position === undefined || version === undefined) return undefined;
  return { task, epoch, position, version };
}

/**
 * For receivers: whether a request carries a valid signature by one of the secrets, made at most
 * `toleranceSec` seconds from now (replay protection). Pass the raw body bytes as received, before
 * any JSON parsing. Comparison is constant-time. A request signed with v2 must carry a valid v2
 * signature (its task, epoch, position and version headers are then authentic too); one signed
 * with v1 only (an older sender) is checked by v1.
 *
 *   if (!verifyWebhookSignature(process.env.SECRET, req.headers, rawBody)) return res.writeHead(401).end();
 */
export function verifyWebhookSignature(
  secret: string | readonly string[],
  headers: HeaderBag,
  body: string | Uint8Array,
  toleranceSec = 300,
  nowMs = Date.now(),
): boolean {
  const timestamp = header(headers, TIMESTAMP_HEADER);
  const signatures = header(headers, SIGNATURE_HEADER);
  if (!timestamp || !signatures || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSec) return false;
  const parts = signatures.split(',').map((part) => part.trim());
  const offered = (prefix: string) => parts.filter((part) => part.startsWith(prefix)).map((part) => Buffer.from(part.slice(prefix.length), 'hex'));
  const v2 = offered('v2=');
  const fence = v2.length > 0 ? fenceHeaders(headers) : undefined;
  if (v2.length > 0 && !fence) return false;
  const candidates = fence ? v2 : offered('v1=');
  for (const key of typeof secret === 'string' ? [secret] : secret) {
    const expected = Buffer.from(fence ? signWebhookRequest(key, timestamp, fence, body) : signWebhookBody(key, timestamp, body), 'hex');
    if (candidates.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) return true;
  }
  return false;
}
