import { sinkPlugin, type SinkPlugin } from '../../core/sink/index.ts';
import { parseElasticsearchOptions, type ElasticsearchOptions } from './options.ts';
import { ElasticsearchSink } from './sink.ts';

export { ElasticsearchSink, describeClientError } from './sink.ts';
export { classifyBulkItem, classifyRequestStatus, foldResults, isOlderWrite, type BulkAction, type BulkResponseItem } from './classify.ts';
export { parseElasticsearchOptions, type ElasticsearchOptions, type IndexFunction, type ResolvedElasticsearchOptions } from './options.ts';

export type ElasticsearchPlugin = SinkPlugin<ElasticsearchSink>;

/**
 * The Elasticsearch sink as a plugin: `plugins: [elasticsearch({ node: 'http://127.0.0.1:9200' })]`.
 * Options are validated here, so a bad one fails at config load with a ConfigError.
 */
export function elasticsearch(options: ElasticsearchOptions): ElasticsearchPlugin {
  const resolved = parseElasticsearchOptions(options);
  const sink = new ElasticsearchSink(resolved);
  return sinkPlugin(resolved.name, sink, (context) => sink.setLogger(context.logger));
}
