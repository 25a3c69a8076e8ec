import type { TunnelPlugin } from '../../core/pipeline/index.ts';
import { parseElasticsearchOptions, type ElasticsearchOptions } from './options.ts';
import { ElasticsearchSink } from './sink.ts';

export { ElasticsearchSink, describeClientError } from './sink.ts';
export { classifyBulkItem, classifyRequestStatus, foldResults, type BulkAction, type BulkResponseItem } from './classify.ts';
export { parseElasticsearchOptions, type ElasticsearchOptions, type IndexFunction, type ResolvedElasticsearchOptions } from './options.ts';

export interface ElasticsearchPlugin extends TunnelPlugin {
  /** The sink this plugin registers (one per plugin instance). */
  readonly sink: ElasticsearchSink;
}

/**
 * The Elasticsearch sink as a plugin: `plugins: [elasticsearch({ node: 'http://127.0.0.1:9200' })]`.
 * Options are validated here, so a bad one fails at config load with a ConfigError.
 */
export function elasticsearch(options: ElasticsearchOptions): ElasticsearchPlugin {
  const resolved = parseElasticsearchOptions(options);
  const sink = new ElasticsearchSink(resolved);
  return {
    name: `sink:${resolved.name}`,
    sink,
    apply(_hooks, context) {
      context.registerSink(resolved.name, sink);
    },
  };
}
