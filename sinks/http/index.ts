import type { TunnelPlugin } from '../../core/pipeline/index.ts';
import { parseWebhookOptions, type WebhookOptions } from './options.ts';
import { WebhookSink } from './sink.ts';

export { WebhookSink } from './sink.ts';
export { verifyWebhookSignature, signWebhookBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.ts';
export { parseWebhookOptions, type WebhookOptions, type ResolvedWebhookOptions } from './options.ts';

export interface WebhookPlugin extends TunnelPlugin {
  readonly sink: WebhookSink;
}

/** The HTTP webhook sink as a plugin: `plugins: [webhook({ url, secret })]`. */
export function webhook(options: WebhookOptions): WebhookPlugin {
  const resolved = parseWebhookOptions(options);
  const sink = new WebhookSink(resolved);
  return {
    name: `sink:${resolved.name}`,
    sink,
    apply(_hooks, context) {
      context.registerSink(resolved.name, sink);
    },
  };
}
