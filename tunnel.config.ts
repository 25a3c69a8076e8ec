// The demo pipeline: the sample `shop` database into Elasticsearch (search) and Redis (cache).
// `npm run demo` brings up the servers, creates the database and runs this config.
import { defineConfig } from './core/index.ts';
import { computedFields, filterColumns, routeTables } from './plugins/index.ts';
import { elasticsearch } from './sinks/elasticsearch/index.ts';
import { redis } from './sinks/redis/index.ts';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;

export default defineConfig({
  status: { port: Number(env('TUNNEL_STATUS_PORT', '18090')) },
  tasks: [
    {
      name: 'shop',
      source: {
        host: '127.0.0.1',
        port: Number(env('TUNNEL_MARIADB_PORT', '13306')),
        user: 'tunnel',
        // Secrets come from the environment (or fromFile()); this default is the demo server's.
        password: env('TUNNEL_MARIADB_PASSWORD', 'tunnel'),
        serverId: 4101,
        include: ['shop.*'],
      },
      // Backfill the rows already there, then stream the binlog from the position taken before.
      snapshot: 'initial',
      plugins: [
        // A password hash must never reach a search index or a cache.
        filterColumns({ tables: ['shop.customers'], exclude: ['password_hash'] }),
        computedFields({
          tables: ['shop.orders'],
          fields: { total: (row) => (Number(row.quantity) * Number(row.unit_price)).toFixed(2) },
        }),
        elasticsearch({ name: 'search', node: `http://127.0.0.1:${env('TUNNEL_ES_PORT', '19200')}`, index: 'shop_{table}' }),
        redis({
          name: 'cache',
          connection: { host: '127.0.0.1', port: Number(env('TUNNEL_REDIS_PORT', '16379')) },
          key: 'shop:{table}:{id}',
          indexes: [{ type: 'set', column: 'status' }],
        }),
        // Orders go to both; customers only to the cache.
        routeTables({ rules: [{ tables: ['shop.customers'], sinks: ['cache'] }], otherwise: 'all' }),
      ],
    },
  ],
});
