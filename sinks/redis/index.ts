import type { TunnelPlugin } from '../../core/pipeline/index.ts';
import { sinkPlugin, type SinkPlugin } from '../../core/sink/index.ts';
import { RedisDeadLetterStore } from './dead-letter-store.ts';
import { parseDeadLetterStoreOptions, parseRedisOptions, type RedisDeadLetterStoreOptions, type RedisOptions } from './options.ts';
import { RedisSink } from './sink.ts';

export { RedisSink, redisText } from './sink.ts';
export { RedisDeadLetterStore } from './dead-letter-store.ts';
export { createRedisClient, type RedisClient } from './connection.ts';
export {
  parseRedisOptions,
  parseDeadLetterStoreOptions,
  type RedisOptions,
  type ResolvedRedisOptions,
  type RedisConnectionOptions,
  type RedisValueFunction,
  type RedisDeadLetterStoreOptions,
} from './options.ts';

export type RedisPlugin = SinkPlugin<RedisSink>;

/** The Redis sink as a plugin: `plugins: [redis({ connection: 'redis://127.0.0.1:6379' })]`. */
export function redis(options: RedisOptions = {}): RedisPlugin {
  const resolved = parseRedisOptions(options);
  const sink = new RedisSink(resolved);
  return sinkPlugin(resolved.name, sink, (context) => sink.setLogger(context.logger));
}

/** Dead letters of the task in a Redis list: `plugins: [redisDeadLetterStore({ connection })]`. */
export function redisDeadLetterStore(options: RedisDeadLetterStoreOptions = {}): TunnelPlugin {
  const resolved = parseDeadLetterStoreOptions(options);
  return {
    name: 'dead-letter:redis',
    apply(_hooks, context) {
      context.registerDeadLetterStore(new RedisDeadLetterStore(resolved, context.task));
    },
  };
}
