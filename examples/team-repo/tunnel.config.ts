// shop-sync: every change to the shop database, as one JSON line per row in an audit log.
//   npx tunnel validate              check this file
//   node_modules/.bin/tunnel start   run it (SIGTERM or Ctrl-C: drain, commit, exit 0)
// Settings come from the environment, so the same file serves every deployment.
import { defineConfig, fromEnv } from 'tunnel';
import { skipTouchOnlyUpdates } from './plugins/skip-touch-only-updates.ts';
import { auditLog } from './sinks/audit-log.ts';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const schema = env('SHOP_DB_SCHEMA', 'shop');

export default defineConfig({
  positions: { dir: env('SHOP_SYNC_STATE_DIR', '.tunnel') + '/positions' },
  deadLetters: { dir: env('SHOP_SYNC_STATE_DIR', '.tunnel') + '/dead-letters' },
  // 0 picks a free port; the log says which
  status: { port: Number(env('SHOP_SYNC_STATUS_PORT', '8090')) },
  shutdownTimeoutMs: 10_000,
  tasks: [
    {
      name: 'shop-audit',
      source: {
        host: env('SHOP_DB_HOST', '127.0.0.1'),
        port: Number(env('SHOP_DB_PORT', '3306')),
        user: env('SHOP_DB_USER', 'tunnel'),
        password: fromEnv('SHOP_DB_PASSWORD'),
        serverId: Number(env('SHOP_DB_SERVER_ID', '5101')),
        include: [`${schema}.*`],
      },
      // the rows already there first, then the binlog from the position taken before the copy
      snapshot: 'initial',
      plugins: [
        // "last seen" bumps are noise for an audit log
        skipTouchOnlyUpdates({ columns: ['seen_at'] }),
        auditLog({ name: 'audit', file: env('SHOP_AUDIT_FILE', 'audit/changes.ndjson') }),
      ],
    },
  ],
});
