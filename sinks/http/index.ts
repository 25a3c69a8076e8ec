import { sinkPlugin, type SinkPlugin } from '../../core/sink/index.ts';
import { parseWebhookOptions, type WebhookOptions } from './options.ts';
import { WebhookSink } from './sink.ts';

export { WebhookSink } from './sink.ts';
export {
  verifyWebhookSignature,
  signWebhookBody,
  signWebhookRequest,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  TASK_HEADER,
  EPOCH_HEADER,
  POSITION_HEADER,
  VERSION_HEADER,
  type SignedFence,
} from './signature.ts';
export {
  createWebhookReceiver,
  FENCED_HEADER,
  type DeliveryState,
  type DeliveryStateStore,
  type WebhookDelivery,
  type WebhookReceiver,
  type WebhookReceiverOptions,
  type WebhookVerdict,
} from './receiver.ts';
export { parseWebhookOptions, type WebhookOptions, type ResolvedWebhookOptions } from './options.ts';

export type WebhookPlugin = SinkPlugin<WebhookSink>;

/** The HTTP webhook sink as a plugin: `plugins: [webhook({ url, secret })]`. */
export function webhook(options: WebhookOptions): WebhookPlugin {
  const resolved = parseWebhookOptions(options);
  return sinkPlugin(resolved.name, new WebhookSink(resolved));
}
