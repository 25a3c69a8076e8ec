// The three sinks as the benchmark configures them (their defaults, on the bench's own index, Redis
// database and receiver), how to empty them before a run and how to count what they hold.
import { fork, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { esClient, redisClient, servers } from '../../test/helpers/servers.ts';
import { BENCH, benchRoot } from './common.ts';

export type SinkKind = 'elasticsearch' | 'redis' | 'webhook';
const ALL_SINKS: SinkKind[] = ['elasticsearch', 'redis', 'webhook'];
/** The sinks the catch-up, memory and latency phases run: all three, or those BENCH_SINKS names (e.g. `redis`). */
export const SINKS: SinkKind[] = sinksFromEnv(process.env.BENCH_SINKS);

function sinksFromEnv(value: string | undefined): SinkKind[] {
  const named = (value ?? '').split(',').filter(Boolean);
  if (named.length === 0) return ALL_SINKS;
  const unknown = named.filter((name) => !ALL_SINKS.includes(name as SinkKind));
  if (unknown.length > 0) throw new Error(`BENCH_SINKS: unknown sink ${unknown.join(', ')}; the sinks are ${ALL_SINKS.join(', ')}`);
  return ALL_SINKS.filter((kind) => named.includes(kind));
}

export const esIndex = (table: string) => `${BENCH.esIndexPrefix}${table}`;

/** The settings of the bench's Elasticsearch indices (the sink creates them with these at start). */
export const ES_INDEX_SETTINGS = { number_of_shards: 1, number_of_replicas: 0 };

/**
 * Import lines and the plugin expression for the generated config. `webhookUrl` is the receiver's;
 * `esUrl` replaces the Elasticsearch node's (a recording proxy in front of it).
 */
export function sinkPlugin(kind: SinkKind, table: string, webhookUrl?: string, esUrl = servers.elasticsearch.url): { imports: string[]; expression: string } {
  switch (kind) {
    case 'elasticsearch':
      return {
        imports: [`import { elasticsearch } from 'sinks/elasticsearch/index.ts';`],
        expression: `elasticsearch({ name: 'es', node: ${JSON.stringify(esUrl)}, index: '${BENCH.esIndexPrefix}{table}',
          indices: { ${esIndex(table)}: { settings: ${JSON.stringify(ES_INDEX_SETTINGS)} } } })`,
      };
    case 'redis':
      return {
        imports: [`import { redis } from 'sinks/redis/index.ts';`],
        expression: `redis({ name: 'redis', connection: { host: ${JSON.stringify(servers.redis.host)}, port: ${servers.redis.port}, db: ${BENCH.redisDb} }, key: 'bench:{table}:{id}' })`,
      };
    case 'webhook':
      if (!webhookUrl) throw new Error('webhook sink needs the receiver url');
      return {
        imports: [`import { webhook } from 'sinks/http/index.ts';`],
        expression: `webhook({ name: 'webhook', url: ${JSON.stringify(webhookUrl)}, secret: ${JSON.stringify(BENCH.webhookSecret)} })`,
      };
  }
}

export interface ReceiverStats {
  rows: number;
  events: number;
  requests: number;
  badSignatures: number;
  distinctIds: number;
  /** Ids inserted or updated and not deleted since. */
  liveIds: number;
  actions: { insert: number; update: number; delete: number };
}

/** The webhook receiver child process (bench/receiver.ts). */
export class Receiver {
  private constructor(
    readonly proc: ChildProcess,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    const proc = fork(resolve(benchRoot, 'receiver.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const url = await new Promise<string>((ok, fail) => {
      proc.once('message', (m: { type: string; url: string }) => ok(m.url));
      proc.once('exit', (code) => fail(new Error(`webhook receiver exited (${code})`)));
    });
    return new Receiver(proc, url);
  }

  private ask<T>(type: string): Promise<T> {
    return new Promise((ok) => {
      const on = (m: { type: string }) => {
        if (m.type !== type) return;
        this.proc.off('message', on);
        ok(m as T);
      };
      this.proc.on('message', on);
      this.proc.send({ type });
    });
  }

  stats(): Promise<ReceiverStats> {
    return this.ask<ReceiverStats>('stats');
  }

  async reset(): Promise<void> {
    await this.ask('reset');
  }

  close(): void {
    if (this.proc.connected) this.proc.disconnect();
  }
}

/** Empties the sink's destination before a run. */
export async function resetSink(kind: SinkKind, table: string, receiver?: Receiver): Promise<void> {
  if (kind === 'elasticsearch') {
    const es = esClient();
    try {
      await es.indices.delete({ index: esIndex(table) }, { ignore: [404] });
    } finally {
      await es.close();
    }
  } else if (kind === 'redis') {
    const r = redisClient({ db: BENCH.redisDb });
    try {
      await r.flushdb();
    } finally {
      r.disconnect();
    }
  } else {
    await receiver!.reset();
  }
}

/** What the destination holds now: documents, keys, or the ids a mirror of the webhook's rows would hold (and rows received). */
export async function countSink(kind: SinkKind, table: string, receiver?: Receiver): Promise<{ count: number; received?: number }> {
  if (kind === 'elasticsearch') {
    const es = esClient();
    try {
      await es.indices.refresh({ index: esIndex(table) });
      const { count } = await es.count({ index: esIndex(table) });
      return { count };
    } finally {
      await es.close();
    }
  }
  if (kind === 'redis') {
    // the rows' keys only: the sink keeps keys of its own beside them (the table registry)
    const r = redisClient({ db: BENCH.redisDb });
    try {
      let count = 0;
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', 'bench:*', 'COUNT', 10_000);
        cursor = next;
        count += keys.length;
      } while (cursor !== '0');
      return { count };
    } finally {
      r.disconnect();
    }
  }
  const s = await receiver!.stats();
  return { count: s.liveIds, received: s.rows };
}
