import { z } from 'zod';
import { parseOptions } from '../../core/config/issues.ts';
import { serializeOptionSchema, sinkBatchOptionSchema } from '../../core/config/sink-options.ts';
import { isHttpUrl } from '../../core/config/validators.ts';

const positiveInt = z.number().int().positive();

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
    serialize: serializeOptionSchema,
    batch: sinkBatchOptionSchema,
  })
  .strict();

export type WebhookOptions = z.input<typeof webhookOptionsSchema>;
export type ResolvedWebhookOptions = z.output<typeof webhookOptionsSchema>;

export function parseWebhookOptions(input: unknown): ResolvedWebhookOptions {
  return parseOptions(webhookOptionsSchema, input, 'webhook');
}
