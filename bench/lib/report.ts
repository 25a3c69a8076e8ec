// The human table of `npm run bench`: one row per figure with median, min and max over the runs, its
// unit, the target it is held to and whether it meets it. Ratios (Tunnel / peer) are rows like any
// other, with "x" for unit.
import { fmtInt, spread, type Spread } from './common.ts';

export interface Row {
  name: string;
  median: string;
  min: string;
  max: string;
  unit: string;
  target: string;
  ok: string;
}

export const fmtRatio = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
export const fmtSeconds = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');

export function row(name: string, s: Spread | undefined, unit: string, target = '', ok?: boolean, fmt: (x: number) => string = fmtInt): Row {
  return {
    name,
    median: s ? fmt(s.median) : '-',
    min: s ? fmt(s.min) : '-',
    max: s ? fmt(s.max) : '-',
    unit,
    target,
    ok: ok === undefined ? '' : ok ? 'yes' : 'NO',
  };
}

/** A row of one value (a single run). */
export const single = (name: string, value: number, unit: string, target = '1 run', ok?: boolean, fmt?: (x: number) => string) =>
  row(name, spread([value]), unit, target, ok, fmt);

/** A heading line inside the table. */
export const heading = (name: string): Row => ({ name, median: '', min: '', max: '', unit: '', target: '', ok: '' });

export function printTable(title: string[], rows: Row[], footer: string): void {
  const width = Math.max(...rows.map((r) => r.name.length), 6);
  const header = `${'figure'.padEnd(width)}  ${'median'.padStart(9)}  ${'min'.padStart(9)}  ${'max'.padStart(9)}  ${'unit'.padEnd(6)}  ${'target'.padEnd(10)}  ok`;
  console.log('');
  for (const line of title) console.log(line);
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(width)}  ${r.median.padStart(9)}  ${r.min.padStart(9)}  ${r.max.padStart(9)}  ${r.unit.padEnd(6)}  ${r.target.padEnd(10)}  ${r.ok}`,
    );
  }
  console.log('-'.repeat(header.length));
  console.log(footer);
}
