/**
 * A real `tunnel start` streaming one database of a source server into Elasticsearch, Redis and a
 * webhook receiver at once, as a user would configure it, and the comparison of each sink with
 * SELECT. The differential run drives it with generated tables; a regression test can drive it with
 * a hand-written table:
 *
 *   const h = await SinkHarness.start(server, 'regress_geometry');
 *   await h.sql('CREATE TABLE t (id INT PRIMARY KEY, g POINT, t TEXT)', "INSERT INTO t VALUES (1, POINT(1,2), 'x')");
 *   expect(await h.check('t')).toMatchObject({ ok: true });
 *   await h.stop();
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { esClient, redisClient, repoRoot, servers } from '../servers.ts';
import { TunnelProcess } from '../tunnel-process.ts';
import { WebhookReceiver } from '../webhook-receiver.ts';
import { expectedTable, type ExpectedTable } from './expected.ts';
import { connectTo, type SourceEndpoint } from './server.ts';
import { asElasticsearch, diffDocuments, diffHashes, esDocuments, esIndexOf, isEmptyDiff, redisHashes, webhookRows, type SinkDiff } from './sink-contents.ts';

const TASK = 'diff';
const SECRET = 'differential-webhook-secret-0123456789';

export interface BinlogPoint {
  file: string;
  offset: number;
}

export interface DeadLetterSummary {
  origin: string;
  reason: string;
  rows: number;
}

export interface TableCheck {
  table: string;
  expected: ExpectedTable;
  diffs: SinkDiff[];
  deadLetters: DeadLetterSummary[];
  /** No difference in any sink, no dead letter, no two rows with one id. */
  ok: boolean;
}

export class SinkHarness {
  readonly es = esClient();
  readonly redis = redisClient();
  readonly receiver = new WebhookReceiver(SECRET);
  tunnel: TunnelProcess | undefined;

  private constructor(
    readonly server: SourceEndpoint,
    readonly schema: string,
    readonly workDir: string,
    /** A session for the harness's own statements (positions, DDL of `sql`). */
    readonly admin: Connection,
    /** A session for SELECTs of expected values (UTC, empty sql_mode). */
    readonly reader: Connection,
  ) {}

  /**
   * Drops and creates database `schema`, empties its indices and keys, and starts Tunnel from the
   * binlog position just before the CREATE DATABASE, with its files in `workDir` (default
   * .data/differential/<schema>).
   */
  static async start(server: SourceEndpoint, schema: string, workDir?: string): Promise<SinkHarness> {
    const h = await SinkHarness.prepare(server, schema, workDir);
    await h.startTunnel();
    return h;
  }

  /**
   * Drops and creates database `schema` and empties its indices and keys, without starting Tunnel
   * yet (tables written before startTunnel({ snapshot: 'initial' }) reach the sinks by the snapshot).
   */
  static async prepare(server: SourceEndpoint, schema: string, workDir = join(repoRoot, '.data', 'differential', schema)): Promise<SinkHarness> {
    rmSync(workDir, { recursive: true, force: true });
    mkdirSync(workDir, { recursive: true });
    const h = new SinkHarness(server, schema, workDir, await connectTo(server), await connectTo(server));
    try {
      await h.admin.query(`DROP DATABASE IF EXISTS \`${schema}\``);
      await h.clearSinks();
      h.#start = await masterPosition(h.admin);
      await h.admin.query(`CREATE DATABASE \`${schema}\` CHARACTER SET utf8mb4`);
      return h;
    } catch (error) {
      await h.close();
      throw error;
    }
  }

  #start: BinlogPoint | undefined;

  /**
   * Starts `tunnel start`: streaming from the position before the database was created, or with
   * `snapshot: 'initial'`, first reading the tables that exist and then streaming from there
   * (`tunnel started` is logged once the snapshot is done: give `timeoutMs` for it).
   */
  async startTunnel(options: { snapshot?: 'initial'; exclude?: string[]; timeoutMs?: number } = {}): Promise<void> {
    writeFileSync(join(this.workDir, 'package.json'), '{"type":"module"}');
    const configFile = join(this.workDir, 'tunnel.config.ts');
    writeFileSync(
      configFile,
      configText(this.workDir, this.server, this.schema, this.#start!, await this.receiver.ensureStarted(), options.snapshot ?? 'never', options.exclude ?? []),
    );
    this.tunnel = new TunnelProcess(configFile);
    await this.tunnel.waitForLog((l) => l.msg === 'tunnel started', options.timeoutMs ?? 60_000);
  }

  /** Runs statements in the harness's database, in order. */
  async sql(...statements: string[]): Promise<void> {
    await this.admin.query(`USE \`${this.schema}\``);
    for (const statement of statements) await this.admin.query(statement);
  }

  /**
   * Waits until Tunnel's committed position reaches the server's current one (and a snapshot, if any,
   * is done); false after `timeoutMs`.
   */
  async catchUp(timeoutMs = 60_000): Promise<boolean> {
    const target = await masterPosition(this.admin);
    const file = join(this.workDir, 'positions', `${TASK}.json`);
    const deadline = Date.now() + timeoutMs;
    let last = 'no position stored yet';
    this.stalled = undefined;
    for (;;) {
      const tunnel = this.tunnel!;
      if (tunnel.child.exitCode !== null) throw new Error(`tunnel exited (${tunnel.child.exitCode}) while catching up:\n${tunnel.output.slice(-3000)}`);
      if (existsSync(file)) {
        try {
          const stored = JSON.parse(readFileSync(file, 'utf8')) as { position: BinlogPoint; snapshot?: unknown };
          if (stored.snapshot === undefined && reached(stored.position, target)) return true;
          last = `${stored.position.file}:${stored.position.offset}${stored.snapshot === undefined ? '' : ' (snapshot in progress)'}`;
        } catch {
          // replaced while read
        }
      }
      if (Date.now() > deadline) {
        this.stalled = `Tunnel's committed position (${last}) did not reach the server's ${target.file}:${target.offset} within ${timeoutMs} ms`;
        return false;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** After a catchUp() that timed out: where Tunnel stood and where the server was. */
  stalled: string | undefined;

  /** Each sink against SELECT of `table`, and the table's dead letters. Call after catchUp(). */
  async check(table: string, letters = this.deadLetters()): Promise<TableCheck> {
    let expected = await expectedTable(this.reader, this.schema, table);
    let diffs = await this.compare(expected);
    // Every sink acknowledged all of it before the position moved, and the ES index is refreshed
    // before the search: a difference now is final. One more look guards against a slow refresh.
    if (diffs.some((d) => !isEmptyDiff(d))) {
      await new Promise((r) => setTimeout(r, 300));
      expected = await expectedTable(this.reader, this.schema, table);
      diffs = await this.compare(expected);
    }
    const deadLetters = letters.get(table) ?? [];
    const ok = diffs.every(isEmptyDiff) && deadLetters.length === 0 && expected.duplicateIds.length === 0;
    return { table, expected, diffs, deadLetters, ok };
  }

  private async compare(expected: ExpectedTable): Promise<SinkDiff[]> {
    return [
      diffDocuments('elasticsearch', asElasticsearch(expected), await esDocuments(this.es, expected.shape)),
      diffHashes(expected, await redisHashes(this.redis, expected.shape)),
      diffDocuments('webhook', expected, webhookRows(this.receiver.received, expected.shape)),
    ];
  }

  /** The task's dead letters so far, by table, then by sink and reason. */
  deadLetters(): Map<string, DeadLetterSummary[]> {
    const file = join(this.workDir, 'dead-letters', `${TASK}.jsonl`);
    const out = new Map<string, DeadLetterSummary[]>();
    if (!existsSync(file)) return out;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const letter = JSON.parse(line) as { origin: string; reason: string; event?: { table?: string; rows?: unknown[] } };
      const table = letter.event?.table ?? '(none)';
      const list = out.get(table) ?? [];
      const oneLine = letter.reason.replace(/\s*\n\s*/g, ' ⏎ ');
      const reason = oneLine.length > 400 ? `${oneLine.slice(0, 400)}...` : oneLine;
      const rows = letter.event?.rows?.length ?? 1;
      const same = list.find((l) => l.origin === letter.origin && l.reason === reason);
      if (same) same.rows += rows;
      else list.push({ origin: letter.origin, reason, rows });
      out.set(table, list);
    }
    return out;
  }

  /** Deletes the indices of tables already checked (a long run would otherwise keep hundreds). */
  async dropIndices(tables: string[]): Promise<void> {
    await deleteIndices(
      this.es,
      tables.map((name) => esIndexOf({ schema: this.schema, name })),
    );
  }

  /** SIGTERM, and the exit code of a graceful stop. */
  async stop(): Promise<number | null> {
    const tunnel = this.tunnel!;
    tunnel.kill('SIGTERM');
    const { code } = await tunnel.exited;
    await this.close();
    return code;
  }

  /** Releases everything (kills Tunnel if it still runs) and keeps Tunnel's output in the work dir. */
  async close(): Promise<void> {
    const tunnel = this.tunnel;
    if (tunnel && tunnel.child.exitCode === null && tunnel.child.signalCode === null) {
      tunnel.kill('SIGKILL');
      await tunnel.exited;
    }
    if (tunnel) writeFileSync(join(this.workDir, 'tunnel.log'), tunnel.output);
    await this.receiver.close();
    this.redis.disconnect();
    await this.es.close();
    await Promise.allSettled([this.admin.end(), this.reader.end()]);
  }

  private async clearSinks(): Promise<void> {
    const indices = (await this.es.cat.indices({ index: `${this.schema}_*`, format: 'json' })) as Array<{ index?: string }>;
    await deleteIndices(this.es, indices.map((i) => i.index!).filter(Boolean));
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.schema}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }
}

/** Where the server's binlog ends now. */
export async function masterPosition(conn: Connection): Promise<BinlogPoint> {
  const [rows] = (await conn.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string; Position: number | string }>];
  const row = rows[0];
  if (!row) throw new Error('SHOW MASTER STATUS returned nothing: is the binlog on?');
  return { file: row.File, offset: Number(row.Position) };
}

function reached(position: BinlogPoint, target: BinlogPoint): boolean {
  return position.file > target.file || (position.file === target.file && position.offset >= target.offset);
}

async function deleteIndices(es: ReturnType<typeof esClient>, names: string[]): Promise<void> {
  for (let i = 0; i < names.length; i += 50) {
    const some = names.slice(i, i + 50);
    if (some.length > 0) await es.indices.delete({ index: some, ignore_unavailable: true });
  }
}

/** A replica server id of its own per database, so that two harnesses on one server do not evict each other. */
function serverIdOf(schema: string): number {
  let h = 0;
  for (const ch of schema) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return 70000 + (h % 10000);
}

function configText(
  dir: string,
  server: SourceEndpoint,
  schema: string,
  start: BinlogPoint,
  hookUrl: string,
  snapshot: 'never' | 'initial',
  exclude: string[],
): string {
  return `// Written by the differential test harness: one task, every sink, as a user would configure them.
import { defineConfig } from '${repoRoot}/core/index.ts';
import { elasticsearch } from '${repoRoot}/sinks/elasticsearch/index.ts';
import { redis } from '${repoRoot}/sinks/redis/index.ts';
import { webhook } from '${repoRoot}/sinks/http/index.ts';

export default defineConfig({
  positions: { dir: ${JSON.stringify(join(dir, 'positions'))} },
  deadLetters: { dir: ${JSON.stringify(join(dir, 'dead-letters'))} },
  status: { port: 0 },
  shutdownTimeoutMs: 10000,
  tasks: [{
    name: '${TASK}',
    source: { host: ${JSON.stringify(server.connection.host)}, port: ${server.connection.port}, user: ${JSON.stringify(server.connection.user)}, password: ${JSON.stringify(server.connection.password)},
      serverId: ${serverIdOf(schema)}, include: ['${schema}.*'], exclude: ${JSON.stringify(exclude)}, startFrom: ${JSON.stringify(start)} },
    snapshot: '${snapshot}',
    commitIntervalMs: 50,
    plugins: [
      elasticsearch({ name: 'search', node: '${servers.elasticsearch.url}' }),
      redis({ name: 'cache', connection: { host: '${servers.redis.host}', port: ${servers.redis.port} } }),
      webhook({ name: 'hook', url: '${hookUrl}', secret: '${SECRET}' }),
    ],
  }],
});
`;
}
