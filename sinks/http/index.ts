import { sinkPlugin, type SinkPlugin } from '../../core/sink/index.ts';
import { parseWebhookOptions, type WebhookOptions } from './options.ts';
import { WebhookSink } from './sink.ts';

export { WebhookSink } from './sink.ts';
export { verifyWebhookSignature, signWebhookBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.ts';
export { parseWebhookOptions, type WebhookOptions, type ResolvedWebhookOptions } from './options.ts';

export type WebhookPlugin = SinkPlugin<WebhookSink>;

/** The HTTP webhook sink as a plugin: `plugins: [webhook({ url, secret })]`. */
export function webhook(options: WebhookOptions): WebhookPlugin {
  const resolved = parseWebhookOptions(options);
  return sinkPlugin(resolved.name, new WebhookSink(resolved));
}
