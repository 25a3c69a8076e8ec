/**
 * One differential run on one source server: generated tables and statements go in while a real
 * `tunnel start` streams them into Elasticsearch, Redis and a webhook receiver (SinkHarness); once
 * Tunnel's committed position has reached the server's, every sink is compared with SELECT, row by
 * row and field by field, and the dead-letter file must be empty. Tables are written and checked in
 * rounds, all through the same Tunnel process.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { repoRoot } from '../servers.ts';
import { SinkHarness, type DeadLetterSummary } from './harness.ts';
import { Random, tableSeed } from './random.ts';
import { createTableSql, dropWidestColumn, generateTable, type TableOptions, type TableSpec } from './schema.ts';
import { connectTo, readServerFacts, type ServerFacts, type SourceEndpoint } from './server.ts';
import type { SinkDiff } from './sink-contents.ts';
import { TableWriter, type StatementStats } from './statements.ts';

export type { DeadLetterSummary } from './harness.ts';

export interface DifferentialOptions {
  server: SourceEndpoint;
  seed: number;
  tables: number;
  /** Tables written before each catch-up and comparison (default 8). */
  tablesPerRound?: number;
  statementsPerTable?: number;
  /** Generator limits (see TableOptions); a seed gives the same tables only under the same ones. */
  table?: TableOptions;
  /** How long Tunnel may take to reach the server's position after a round (default 60 s + 2 s per table). */
  catchUpTimeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface TableResult {
  spec: TableSpec;
  createSql: string;
  /** The table's statements, replayable with the mysql client. */
  sqlFile: string;
  stats: StatementStats;
  rows: number;
  diffs: SinkDiff[];
  deadLetters: DeadLetterSummary[];
  duplicateIds: string[];
  ok: boolean;
}

export interface DifferentialReport {
  server: string;
  version: string;
  seed: number;
  workDir: string;
  tables: TableResult[];
  failures: TableResult[];
  elapsedMs: number;
  /** Milliseconds spent starting (servers facts, Tunnel), writing, waiting for Tunnel, comparing. */
  timings: { start: number; write: number; catchUp: number; compare: number };
  tunnelExitCode: number | null;
  /** Dead letters not attributable to a table of the run. */
  otherDeadLetters: DeadLetterSummary[];
  /** Set when Tunnel did not catch up by the deadline (the run stopped at that round). */
  stalled?: string;
}

export async function runDifferential(options: DifferentialOptions): Promise<DifferentialReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const { server, seed } = options;
  const schema = `diff_${server.name}`;
  const workDir = join(repoRoot, '.data', 'differential', `${server.name}-${seed}`);
  const conn = await connectTo(server);
  const results: TableResult[] = [];
  const timings = { start: 0, write: 0, catchUp: 0, compare: 0 };
  const statements = options.statementsPerTable ?? 12;
  let harness: SinkHarness | undefined;
  let stalled: string | undefined;
  try {
    const facts = await readServerFacts(conn);
    harness = await SinkHarness.prepare(server, schema, workDir);
    const specs = Array.from({ length: options.tables }, (_, i) => generateTable(tableSeed(seed, i), facts, schema, `t${i}`, options.table));
    // Snapshot-path tables are created and written before Tunnel starts; its initial snapshot reads them.
    const early = new Map<number, WrittenTable>();
    for (const [i, spec] of specs.entries()) {
      if (spec.path === 'snapshot') early.set(i, await writeTable(conn, facts, spec, workDir, statements));
    }
    // the snapshot creates each table's index and reads it before `tunnel started`: ~1 s a table on a busy machine
    await harness.startTunnel(early.size > 0 ? { snapshot: 'initial', timeoutMs: 60_000 + 2_000 * early.size } : {});
    timings.start = Date.now() - started;
    log(`${server.name} ${facts.version}: seed ${seed}, ${options.tables} tables (${early.size} by the snapshot); tunnel started (work dir ${workDir})`);

    const perRound = options.tablesPerRound ?? 8;
    for (let first = 0; first < options.tables; first += perRound) {
      const roundStart = Date.now();
      const round: WrittenTable[] = [];
      for (let i = first; i < Math.min(options.tables, first + perRound); i++) {
        const before = early.get(i);
        if (before) {
          // More changes to the rows the snapshot delivered, now through the binlog.
          before.writer.comment('Tunnel started here: the rows above reached the sinks by its snapshot, what follows by the binlog');
          await before.writer.prepare();
          await before.writer.run({ statements: before.stats.statements + Math.ceil(statements / 2), maxRows: 60 });
          round.push(before);
        } else {
          round.push(await writeTable(conn, facts, specs[i]!, workDir, statements));
        }
      }
      const wrote = Date.now();
      const caughtUp = await harness.catchUp(options.catchUpTimeoutMs ?? 60_000 + 2_000 * round.length);
      const waited = Date.now();
      const letters = harness.deadLetters();
      for (const table of round) {
        const check = await harness.check(table.spec.name, letters);
        results.push({
          spec: table.spec,
          createSql: table.createSql,
          sqlFile: table.sqlFile,
          stats: table.stats,
          rows: check.expected.rows.size,
          diffs: check.diffs,
          deadLetters: check.deadLetters,
          duplicateIds: check.expected.duplicateIds,
          ok: check.ok,
        });
      }
      const failed = results.slice(first).filter((r) => !r.ok).length;
      timings.write += wrote - roundStart;
      timings.catchUp += waited - wrote;
      timings.compare += Date.now() - waited;
      log(
        `${server.name}: tables ${first}-${first + round.length - 1} compared (${caughtUp ? 'caught up' : 'NOT caught up'}), ${failed} with differences; ` +
          `write ${wrote - roundStart} ms, catch-up ${waited - wrote} ms, compare ${Date.now() - waited} ms`,
      );
      // Not caught up: nothing later can be compared either; the report says what was still different.
      if (!caughtUp) {
        stalled = harness.stalled;
        break;
      }
      if (process.env.TUNNEL_DIFF_KEEP !== '1') await harness.dropIndices(round.map((t) => t.spec.name));
    }
    const names = new Set(results.map((r) => r.spec.name));
    const otherDeadLetters = [...harness.deadLetters().entries()].filter(([table]) => !names.has(table)).flatMap(([, l]) => l);
    const tunnelExitCode = await harness.stop();
    harness = undefined;
    return {
      server: server.name,
      version: facts.version,
      seed,
      workDir,
      tables: results,
      failures: results.filter((r) => !r.ok),
      elapsedMs: Date.now() - started,
      timings,
      tunnelExitCode,
      otherDeadLetters,
      stalled,
    };
  } finally {
    await harness?.close();
    await conn.end();
  }
}

interface WrittenTable {
  spec: TableSpec;
  createSql: string;
  sqlFile: string;
  stats: StatementStats;
  writer: TableWriter;
}

/** Creates the table of `spec` and runs its statements, logging them to a replayable .sql file. */
async function writeTable(conn: Connection, facts: ServerFacts, generated: TableSpec, workDir: string, statements: number): Promise<WrittenTable> {
  let spec = generated;
  const sqlFile = join(workDir, `${spec.name}-seed-${spec.seed}.sql`);
  writeFileSync(
    sqlFile,
    `-- seed ${spec.seed} on ${facts.version}, ${spec.path === 'snapshot' ? 'written before Tunnel started (snapshot), then more after' : 'streamed'}\n` +
      `CREATE DATABASE IF NOT EXISTS \`${spec.schema}\` CHARACTER SET utf8mb4;\n`,
  );
  const log = (line: string) => appendFileSync(sqlFile, `${line}\n`);
  let createSql = createTableSql(spec);
  for (let attempt = 0; ; attempt++) {
    try {
      await conn.query(createSql);
      break;
    } catch (error) {
      const code = (error as { errno?: number }).errno;
      // Row size too large / column too long / key too long: drop the widest column, deterministically.
      if (attempt < 20 && (code === 1118 || code === 1074 || code === 1071)) {
        spec = dropWidestColumn(spec);
        createSql = createTableSql(spec);
        continue;
      }
      throw new Error(`CREATE TABLE refused (seed ${spec.seed}): ${(error as Error).message}\n${createSql}`, { cause: error });
    }
  }
  log(`${createSql};`);
  // Values come from their own stream, so the schema of a seed stays the same if value drawing changes.
  const rnd = new Random((spec.seed ^ 0x5bd1e995) >>> 0);
  const writer = new TableWriter(conn, spec, { rnd, facts, spec }, log);
  await writer.prepare();
  await writer.run({ statements, maxRows: 60 });
  return { spec, createSql, sqlFile, stats: writer.stats, writer };
}
