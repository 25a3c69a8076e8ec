// The differential test: generated tables of every column type, in random column order, character
// sets and keys, with random multi-row DML and each type's edge values, streamed by a real
// `tunnel start` into Elasticsearch, Redis and a webhook receiver at once. Each sink must then equal
// SELECT row by row, field by field (expected values computed from what the server returns, never by
// Tunnel's code), with no dead letters, on MariaDB and on MySQL 8.
//
// TUNNEL_DIFF_SEED=<n> replays a run (or, with TUNNEL_DIFF_TABLES=1, the one table of that seed);
// TUNNEL_DIFF_TABLES=300 runs a long check. The seed and each failing table's seed are printed.
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceServers } from '../helpers/servers.ts';
import { formatSummary, formatTableFailure } from '../helpers/differential/report.ts';
import { runDifferential } from '../helpers/differential/run.ts';
import type { TableOptions } from '../helpers/differential/schema.ts';

const seed = process.env.TUNNEL_DIFF_SEED ? Number(process.env.TUNNEL_DIFF_SEED) >>> 0 : randomInt(2 ** 32 - 1);
const tables = Number(process.env.TUNNEL_DIFF_TABLES || 8);
const statementsPerTable = Number(process.env.TUNNEL_DIFF_STATEMENTS || 12);
// To look past a known bug: TUNNEL_DIFF_KEYS=single,composite, TUNNEL_DIFF_EXCLUDE=geometry,json and
// TUNNEL_DIFF_CHARSETS=utf8mb4,latin1,binary
// (a seed draws the same tables only with the same settings; the replay line repeats them).
const list = (name: string) => (process.env[name] ? process.env[name]!.split(',').map((s) => s.trim()) : undefined);
const table: TableOptions = {
  keyShapes: list('TUNNEL_DIFF_KEYS') as TableOptions['keyShapes'],
  excludeKinds: list('TUNNEL_DIFF_EXCLUDE') as TableOptions['excludeKinds'],
  charsets: list('TUNNEL_DIFF_CHARSETS'),
};
const settings = ['TUNNEL_DIFF_STATEMENTS', 'TUNNEL_DIFF_KEYS', 'TUNNEL_DIFF_EXCLUDE', 'TUNNEL_DIFF_CHARSETS']
  .filter((name) => process.env[name])
  .map((name) => `${name}=${process.env[name]} `)
  .join('');

describe('differential: every sink equals SELECT on generated schemas', () => {
  for (const server of sourceServers) {
    it(
      `${server.name}: ${tables} generated tables through tunnel start into Elasticsearch, Redis and a webhook`,
      async () => {
        const report = await runDifferential({ server, seed, tables, statementsPerTable, table, log: (line) => console.log(line) });
        const summary = formatSummary(report);
        const details = report.failures.map((f) => formatTableFailure(report, f, settings)).join('\n\n');
        writeFileSync(join(report.workDir, 'report.txt'), `${summary}\n\n${details}\n`);
        console.log(summary);
        const replay = `replay: ${settings}TUNNEL_DIFF_SEED=${seed} TUNNEL_DIFF_TABLES=${tables} npx vitest run test/integration/differential.test.ts (report in ${report.workDir}/report.txt)`;
        expect(report.stalled, `${summary}\n\n${details.slice(0, 20_000)}\n\n${replay}`).toBeUndefined();
        expect(report.failures.length, `${summary}\n\n${details.slice(0, 20_000)}\n\n${replay}`).toBe(0);
        expect(report.otherDeadLetters, replay).toEqual([]);
        expect(report.tunnelExitCode, replay).toBe(0);
      },
      120_000 + tables * 15_000,
    );
  }
});
