import { createHmac, timingSafeEqual } from 'node:crypto';

/** Unix seconds at which the request was signed. */
export const TIMESTAMP_HEADER = 'x-tunnel-timestamp';
/** `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, comma-separated when several secrets sign. */
export const SIGNATURE_HEADER = 'x-tunnel-signature';

/** The signature of one request: HMAC-SHA256 over `${timestamp}.${body}`, hex. */
export function signWebhookBody(secret: string, timestamp: number | string, body: string | Uint8Array): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(body);
  return hmac.digest('hex');
}

/** The signature header value for a request signed with each of the secrets (rotation). */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: Uint8Array): string {
  return secrets.map((secret) => `v1=${signWebhookBody(secret, timestamp, body)}`).join(',');
}

type HeaderBag = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const value = bag[name] ?? Object.entries(bag).find(([key]) => key.toLowerCase() === name)?.[1];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * For receivers: whether a request carries a valid signature by one of the secrets, made at most
 * `toleranceSec` seconds from now (replay protection). Pass the raw body bytes as received, before
 * any JSON parsing. Comparison is constant-time.
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
  const offered = signatures
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('v1='))
    .map((part) => Buffer.from(part.slice(3), 'hex'));
  for (const key of typeof secret === 'string' ? [secret] : secret) {
    const expected = Buffer.from(signWebhookBody(key, timestamp, body), 'hex');
    if (offered.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) return true;
  }
  return false;
}
