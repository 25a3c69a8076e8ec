/**
 * Messages for a differential run: per failing table its seed and replay line, its CREATE TABLE, and
 * for each sink the first differences (id, column, type, expected vs actual) and its dead letters;
 * and over a whole run, the distinct kinds of failure with the tables that show each.
 */
import type { DifferentialReport, TableResult } from './run.ts';
import type { SinkDiff } from './sink-contents.ts';

const EXAMPLES = 4;

function short(value: unknown, max = 160): string {
  const text = value === undefined ? '(absent)' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}...(${text.length} chars)` : text;
}

function columnType(result: TableResult, column: string): string {
  const col = result.spec.columns.find((c) => c.name === column);
  if (!col) return '(not a column)';
  return col.definition.length > 100 ? `${col.definition.slice(0, 100)}...` : col.definition;
}

/** `settings`: the generator's environment settings of the run, repeated in the replay line. */
export function formatTableFailure(report: Pick<DifferentialReport, 'server' | 'seed'>, result: TableResult, settings = ''): string {
  const { spec } = result;
  const lines = [
    `table ${spec.schema}.${spec.name} on ${report.server}: seed ${spec.seed} (replay alone: ${settings}TUNNEL_DIFF_SEED=${spec.seed} TUNNEL_DIFF_TABLES=1), ${result.rows} rows, ${spec.path === 'snapshot' ? 'written before Tunnel started (snapshot) then changed' : 'streamed'}, sql_mode ${spec.sqlMode}, session time zone ${spec.timeZone}, statements in ${result.sqlFile}`,
    result.createSql
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n'),
  ];
  for (const d of result.diffs) {
    if (d.missing.length + d.extra.length + d.different.length === 0) continue;
    lines.push(`  ${d.sink}: ${d.missing.length} rows missing, ${d.extra.length} extra, ${d.different.length} fields different`);
    for (const id of d.missing.slice(0, EXAMPLES)) lines.push(`    missing id ${short(id)}`);
    for (const id of d.extra.slice(0, EXAMPLES)) lines.push(`    extra id ${short(id)}`);
    // One example per differing column: a bug usually shows in one type, whatever the row.
    const byColumn = new Map<string, typeof d.different>();
    for (const f of d.different) byColumn.set(f.column, [...(byColumn.get(f.column) ?? []), f]);
    for (const [column, fields] of [...byColumn.entries()].slice(0, 12)) {
      const f = fields[0]!;
      lines.push(
        `    column ${column} ${columnType(result, column)}: ${fields.length} rows, e.g. id ${short(f.id, 60)}: expected ${short(f.expected)}, got ${short(f.actual)}`,
      );
    }
  }
  for (const l of result.deadLetters) lines.push(`  dead letters from ${l.origin}: ${l.rows} rows: ${l.reason}`);
  if (result.duplicateIds.length > 0) lines.push(`  generator error: rows with the same id ${short(result.duplicateIds.slice(0, 3))}`);
  return lines.join('\n');
}

/** A short name for a kind of failure, to group tables that show the same bug. */
export function failureSignatures(result: TableResult): string[] {
  const out = new Set<string>();
  const typeOf = (column: string) => {
    const col = result.spec.columns.find((c) => c.name === column);
    if (!col) return `extra field ${column}`;
    return col.charset ? `${col.kind} ${col.charset}` : col.kind === 'int' ? `int${col.bits}${col.unsigned ? ' unsigned' : ''}` : col.kind;
  };
  for (const d of result.diffs as SinkDiff[]) {
    if (d.missing.length > 0) out.add(`${d.sink}: rows missing`);
    if (d.extra.length > 0) out.add(`${d.sink}: extra rows`);
    for (const f of d.different) out.add(`${d.sink}: ${typeOf(f.column)} differs`);
  }
  for (const l of result.deadLetters) out.add(`dead letter ${l.origin}: ${normalizeReason(l.reason)}`);
  if (result.duplicateIds.length > 0) out.add('generator: duplicate ids');
  return [...out];
}

/** A dead letter's reason without its row-specific parts (ids, field names, values, offsets). */
function normalizeReason(reason: string): string {
  return reason
    .replace(/ id \[.*$/s, ' id […]')
    .replace(/ in document with id .*$/s, '')
    .replace(/field \[[^\]]*\]/g, 'field […]')
    .replace(/\d+/g, 'N')
    .slice(0, 200);
}

export function formatSummary(report: DifferentialReport): string {
  const lines = [
    `differential on ${report.server} (${report.version}), seed ${report.seed}: ${report.tables.length} tables, ${report.failures.length} with differences, ${Math.round(report.elapsedMs / 100) / 10} s (${Math.round(report.elapsedMs / Math.max(1, report.tables.length))} ms per table); tunnel exit ${report.tunnelExitCode}`,
  ];
  if (report.stalled) lines.push(`  NOT CAUGHT UP: ${report.stalled}; the differences below are what was still different then`);
  const rows = report.tables.reduce((n, t) => n + t.rows, 0);
  const statements = report.tables.reduce((n, t) => n + t.stats.statements, 0);
  const refused = report.tables.reduce((n, t) => n + t.stats.refused, 0);
  lines.push(`  ${statements} statements (${refused} refused by the server for their data), ${rows} rows at the end`);
  const t = report.timings;
  lines.push(`  time: start ${t.start} ms, writing ${t.write} ms, waiting for Tunnel ${t.catchUp} ms, comparing ${t.compare} ms`);
  const groups = new Map<string, number[]>();
  for (const r of report.failures) for (const s of failureSignatures(r)) groups.set(s, [...(groups.get(s) ?? []), r.spec.seed]);
  for (const [signature, seeds] of [...groups.entries()].sort((a, b) => b[1].length - a[1].length))
    lines.push(`  ${seeds.length} tables: ${signature} (seeds ${seeds.slice(0, 6).join(', ')}${seeds.length > 6 ? ', ...' : ''})`);
  for (const l of report.otherDeadLetters) lines.push(`  dead letters outside the run's tables from ${l.origin}: ${l.rows}: ${l.reason}`);
  return lines.join('\n');
}
