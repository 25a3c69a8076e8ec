import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors/index.ts';
import { packageInfo } from '../package/index.ts';

// `tunnel init`: the starting point of a team's repository. The files import Tunnel by its package
// name, so they run against the installed package.

const PLUGIN_FILE = 'plugins/keep-deleted-rows.ts';

const configFile = (name: string) => `// Tunnel's configuration: one task streaming a MariaDB/MySQL binlog into Elasticsearch.
//   npx ${name} validate            check it (field errors name their path, e.g. tasks[0].source.port)
//   node_modules/.bin/${name} start  run it; SIGTERM/SIGINT drains, commits and exits 0
// (under a process manager start Tunnel itself, not through npx, which does not pass signals on).
import { defineConfig, fromEnv } from '${name}';
import { elasticsearch } from '${name}/sinks/elasticsearch';
import { keepDeletedRows } from './${PLUGIN_FILE}';

export default defineConfig({
  // Without a \`cluster\` section Tunnel runs standalone: every task in this process, positions in
  // local files (positions.dir). Add cluster: { zookeeper: { connect } } for a highly available group.
  positions: { dir: '.tunnel/positions' },
  // GET /healthz, /readyz, /metrics and /api/status; \`false\` turns it off.
  status: { port: 8090 },
  tasks: [
    {
      // The position of a task is committed under its name: renaming a task starts it afresh.
      name: 'shop',
      source: {
        host: process.env.TUNNEL_MYSQL_HOST ?? '127.0.0.1',
        port: Number(process.env.TUNNEL_MYSQL_PORT ?? 3306),
        // needs REPLICATION SLAVE, REPLICATION CLIENT, and SELECT for snapshots
        user: 'tunnel',
        // secrets come from the environment or a file (fromFile('/run/secrets/...')), never from here
        password: fromEnv('TUNNEL_MYSQL_PASSWORD'),
        // unique among every replica of the server
        serverId: 4242,
        // schema.table globs; tables outside them are not even decoded
        include: ['shop.*'],
      },
      // Copy the rows already there first, then stream from the position taken before the copy.
      snapshot: 'initial',
      plugins: [
        // your own plugin, from this repository
        keepDeletedRows({ tables: ['shop.orders'] }),
        // a sink is a plugin too; index: one index per table
        elasticsearch({ node: process.env.TUNNEL_ES_URL ?? 'http://127.0.0.1:9200', index: '{schema}_{table}' }),
      ],
    },
  ],
});
`;

const pluginFile = (name: string) => `// An example plugin: a filter that keeps the documents of deleted rows in the sinks (an order
// deleted in the shop stays searchable). A plugin is a name and an apply(hooks, context) that taps
// the hooks it needs; every tap is reported under the plugin's name when it throws.
import { definePlugin, tableMatcher } from '${name}';

export interface KeepDeletedRowsOptions {
  /** schema.table globs whose deletes are not passed on */
  tables: string[];
}

export function keepDeletedRows(options: KeepDeletedRowsOptions) {
  const applies = tableMatcher(options.tables);
  return definePlugin({
    name: 'keep-deleted-rows',
    apply(hooks) {
      // A filter returns false to drop the event; anything else keeps it for the next filter.
      hooks.filter.tap('keep-deleted-rows', (event) => !(event.action === 'delete' && applies(event.schema, event.table)));
    },
  });
}
`;

export async function initCommand(dir: string): Promise<number> {
  const { name } = packageInfo();
  const files: Array<[string, string]> = [
    ['tunnel.config.ts', configFile(name)],
    [PLUGIN_FILE, pluginFile(name)],
  ];
  const existing = files.map(([path]) => path).filter((path) => existsSync(join(dir, path)));
  if (existing.length > 0) {
    throw new ConfigError(`${existing.join(' and ')} exist${existing.length === 1 ? 's' : ''} already in ${dir}; init writes nothing over them`);
  }
  for (const [path, text] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    // 'wx': fail rather than overwrite a file created meanwhile
    await writeFile(join(dir, path), text, { flag: 'wx' });
  }
  process.stdout.write(
    `wrote ${files.map(([path]) => path).join(' and ')}\n` +
      `next: set TUNNEL_MYSQL_PASSWORD (and TUNNEL_MYSQL_HOST, TUNNEL_ES_URL), then\n` +
      `  npx ${name} validate\n` +
      `  node_modules/.bin/${name} start\n`,
  );
  return 0;
}
