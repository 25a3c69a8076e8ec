/**
 * Random DML on a generated table, run against the server as it is generated: multi-row INSERTs,
 * REPLACE and INSERT ... ON DUPLICATE KEY UPDATE, UPDATEs of one or many rows (primary-key changes
 * included), DELETEs, NULLs, and transactions that commit or roll back. Rows to change are chosen
 * from what the table holds (read back from the server), so the statements touch real rows.
 *
 * A statement the server refuses for its data (a duplicate key, a value out of range in strict mode,
 * an invalid geometry) is skipped and counted: the server decides, deterministically, and the sinks
 * must simply not see it. Every statement run, refused ones marked, goes to `log` for replay.
 */
import type { Connection } from 'mysql2/promise';
import type { Random } from './random.ts';
import type { Column, TableSpec } from './schema.ts';
import { valueLiteral, type ValueContext } from './values.ts';

/** Server errors caused by a generated value; anything else is a fault of the generator or the server. */
const DATA_ERRORS = new Set([
  1048, // column cannot be null
  1062, // duplicate entry
  1264, // out of range
  1265, // data truncated
  1292, // incorrect date/time/... value
  1366, // incorrect string/integer value
  1367, // illegal value
  1406, // data too long
  1411, // incorrect value for function
  1416, // cannot get geometry object from data
  1441, // datetime function: field overflow (MySQL rounding '9999-12-31 23:59:59.99999' up)
  1525, // incorrect DATETIME/TIMESTAMP value
  1690, // value out of range in an expression
  3037, // invalid GIS data
  3140, // invalid JSON text (MySQL)
  3141, // invalid JSON text in argument (MySQL)
  4025, // CHECK constraint failed (MariaDB JSON)
  4078, // illegal parameter data types (MariaDB)
  1210, // incorrect arguments
]);

export interface StatementStats {
  statements: number;
  refused: number;
  refusedCodes: Record<string, number>;
  rolledBack: number;
}

export interface StatementOptions {
  /** Statements to run (a transaction counts its statements). */
  statements: number;
  /** Rows a table holds at most (inserts stop growing it past this). */
  maxRows: number;
}

export class TableWriter {
  readonly stats: StatementStats = { statements: 0, refused: 0, refusedCodes: {}, rolledBack: 0 };
  #serial = 0;
  #first = true;

  constructor(
    private readonly conn: Connection,
    private readonly spec: TableSpec,
    private readonly ctx: Omit<ValueContext, 'first'>,
    private readonly log: (line: string) => void,
  ) {}

  private get rnd(): Random {
    return this.ctx.rnd;
  }

  /** A comment line in the statement log. */
  comment(text: string): void {
    this.log(`-- ${text}`);
  }

  /** Sets the session (sql_mode, time zone) the table's statements run in. */
  async prepare(): Promise<void> {
    const mode = this.spec.sqlMode === 'permissive' ? "''" : 'DEFAULT';
    const sql = `SET SESSION sql_mode = ${mode}, SESSION time_zone = '${this.spec.timeZone}'`;
    this.log(`${sql};`);
    await this.conn.query(sql);
  }

  /** Runs random statements until `options.statements` have run on this table (a first run starts with an INSERT). */
  async run(options: StatementOptions): Promise<void> {
    if (this.stats.statements === 0) await this.exec(this.insertSql(this.rnd.int(3, 12)));
    while (this.stats.statements < options.statements) {
      if (this.rnd.chance(0.15)) {
        const n = this.rnd.int(2, 4);
        const rollback = this.rnd.chance(0.2);
        await this.exec('BEGIN');
        for (let i = 0; i < n; i++) await this.exec(await this.randomStatement(options));
        await this.exec(rollback ? 'ROLLBACK' : 'COMMIT');
        if (rollback) this.stats.rolledBack += n;
      } else {
        await this.exec(await this.randomStatement(options));
      }
    }
  }

  private async randomStatement(options: StatementOptions): Promise<string> {
    const rows = await this.handles();
    const keyed = this.spec.key.length > 0;
    const full = rows.length >= options.maxRows;
    const kind = this.rnd.weighted([
      ['insert', full ? 0 : 4],
      ['replace', keyed && !full ? 1 : 0],
      ['upsert', keyed && rows.length > 0 ? 1 : 0],
      ['update', rows.length > 0 ? 5 : 0],
      ['updateKey', keyed && rows.length > 0 ? 2 : 0],
      ['updateAll', rows.length > 0 ? 1 : 0],
      ['delete', rows.length > 0 ? 2 : 0],
      ['deleteLimit', rows.length > 0 ? 0.5 : 0],
      ['insert', 0.01],
    ] as const);
    switch (kind) {
      case 'insert':
        return this.insertSql(this.rnd.int(1, 10));
      case 'replace':
        return 'REPLACE' + this.insertSql(this.rnd.int(1, 3)).slice('INSERT'.length);
      case 'upsert': {
        const cols = this.changeable();
        const sets = this.rnd.sample(cols, this.rnd.int(1, Math.min(3, cols.length)));
        const existing = this.rnd.sample(rows, this.rnd.int(1, 2));
        const sql = this.insertSql(existing.length + this.rnd.int(0, 1), existing);
        if (sets.length === 0) return sql;
        return `${sql} ON DUPLICATE KEY UPDATE ${sets.map((c) => `\`${c.name}\` = ${this.rnd.chance(0.5) ? `VALUES(\`${c.name}\`)` : this.value(c)}`).join(', ')}`;
      }
      case 'update': {
        const cols = this.changeable();
        if (cols.length === 0) return this.insertSql(1);
        const sets = this.rnd.sample(cols, this.rnd.int(1, Math.min(4, cols.length)));
        const target = this.rnd.sample(rows, this.rnd.int(1, Math.min(5, rows.length)));
        return `UPDATE ${this.table} SET ${sets.map((c) => `\`${c.name}\` = ${this.value(c)}`).join(', ')} WHERE ${this.where(target)}`;
      }
      case 'updateKey': {
        const keyCols = this.spec.columns.filter((c) => c.key);
        const col = this.rnd.pick(keyCols);
        const intKey = col.kind === 'int' && this.rnd.chance(0.4);
        if (intKey) {
          // one statement moving several rows' keys: a multi-row update event with key changes
          const target = this.rnd.sample(rows, this.rnd.int(1, Math.min(4, rows.length)));
          const delta = this.rnd.pick([1, 7, 1000, -3]);
          return `UPDATE ${this.table} SET \`${col.name}\` = \`${col.name}\` + (${delta}) WHERE ${this.where(target)} ORDER BY \`${col.name}\` ${delta > 0 ? 'DESC' : 'ASC'}`;
        }
        const target = [this.rnd.pick(rows)];
        const also = this.rnd.chance(0.5) ? this.rnd.sample(this.changeable(), 1) : [];
        const sets = [col, ...also].map((c) => `\`${c.name}\` = ${this.value(c)}`);
        return `UPDATE ${this.table} SET ${sets.join(', ')} WHERE ${this.where(target)}`;
      }
      case 'updateAll': {
        const cols = this.changeable();
        if (cols.length === 0) return this.insertSql(1);
        const c = this.rnd.pick(cols);
        return `UPDATE ${this.table} SET \`${c.name}\` = ${this.value(c)}`;
      }
      case 'delete':
        return `DELETE FROM ${this.table} WHERE ${this.where(this.rnd.sample(rows, this.rnd.int(1, Math.min(4, rows.length))))}`;
      case 'deleteLimit':
        return `DELETE FROM ${this.table} ORDER BY ${this.handleColumns()
          .map((c) => `\`${c.name}\``)
          .join(', ')} ${this.rnd.pick(['ASC', 'DESC'])} LIMIT ${this.rnd.int(1, 3)}`;
    }
  }

  private get table(): string {
    return `\`${this.spec.schema}\`.\`${this.spec.name}\``;
  }

  /** Columns a statement may set: not the key, the serial number of a keyless table, or a computed column. */
  private changeable(): Column[] {
    return this.spec.columns.filter((c) => !c.key && !c.serial && !c.autoUpdate && !c.generated);
  }

  private value(col: Column): string {
    const literal = valueLiteral({ ...this.ctx, first: this.#first }, col);
    return literal;
  }

  /** INSERT of `count` rows; `reuse` rows get the key of those existing rows (for upserts). */
  private insertSql(count: number, reuse: string[][] = []): string {
    const cols = this.spec.columns.filter((c) => !c.generated && (!c.autoUpdate || this.rnd.chance(0.3)));
    const keyCols = this.handleColumns();
    const rows: string[] = [];
    const keysUsed = new Set<string>();
    for (let r = 0; r < count; r++) {
      const existing = reuse[r];
      let values: string[] = [];
      // Edge values repeat often: redraw a row whose key literal the statement already has, so a
      // multi-row INSERT is rarely refused as a whole for a duplicate key.
      for (let attempt = 0; attempt < 8; attempt++) {
        values = cols.map((c) => {
          if (c.serial) return String(this.#serial + 1);
          if (existing && c.key) return existing[keyCols.indexOf(c)]!;
          return this.value(c);
        });
        const key = cols.map((c, i) => (c.key ? values[i] : '')).join('\u0000');
        if (!keysUsed.has(key)) {
          keysUsed.add(key);
          break;
        }
      }
      if (cols.some((c) => c.serial)) this.#serial++;
      rows.push(`(${values.join(', ')})`);
      this.#first = false;
    }
    return `INSERT INTO ${this.table} (${cols.map((c) => `\`${c.name}\``).join(', ')}) VALUES ${rows.join(', ')}`;
  }

  /** The columns that pick out one row: the key, or the serial number of a keyless table. */
  private handleColumns(): Column[] {
    const keyed = this.spec.key.map((k) => this.spec.columns.find((c) => c.name === k)!);
    return keyed.length > 0 ? keyed : this.spec.columns.filter((c) => c.serial);
  }

  /** Each row's handle as SQL literals built from the stored values, sorted (independent of scan order). */
  private async handles(): Promise<string[][]> {
    const exprs = this.handleColumns().map((c) => handleExpression(c));
    const [rows] = (await this.conn.query({ sql: `SELECT ${exprs.join(', ')} FROM ${this.table}`, rowsAsArray: true })) as unknown as [string[][]];
    return rows.map((r) => r.map(String)).sort((a, b) => (a.join('\u0000') < b.join('\u0000') ? -1 : 1));
  }

  private where(rows: string[][]): string {
    const cols = this.handleColumns().map((c) => `\`${c.name}\``);
    if (cols.length === 1) return `${cols[0]} IN (${rows.map((r) => r[0]).join(', ')})`;
    return `(${cols.join(', ')}) IN (${rows.map((r) => `(${r.join(', ')})`).join(', ')})`;
  }

  private async exec(sql: string): Promise<void> {
    if (sql !== 'BEGIN' && sql !== 'COMMIT' && sql !== 'ROLLBACK') this.stats.statements++;
    try {
      await this.conn.query(sql);
      this.log(`${sql};`);
    } catch (error) {
      const code = (error as { errno?: number }).errno;
      if (code === undefined || !DATA_ERRORS.has(code)) throw new Error(`statement failed: ${(error as Error).message}\n${sql}`, { cause: error });
      this.stats.refused++;
      this.stats.refusedCodes[code] = (this.stats.refusedCodes[code] ?? 0) + 1;
      this.log(`-- refused (${code}): ${sql.length > 2000 ? `${sql.slice(0, 2000)}...` : sql}`);
    }
  }
}

/** A SQL expression giving the literal that matches `col`'s stored value exactly. */
function handleExpression(col: Column): string {
  const c = `\`${col.name}\``;
  switch (col.kind) {
    case 'int':
    case 'decimal':
    case 'year':
      return `CAST(${c} AS CHAR)`;
    case 'text':
      return `CONCAT('_${col.charset} X''', HEX(${c}), '''')`;
    case 'enum':
      return `CONCAT('_utf8mb4 X''', HEX(CONVERT(${c} USING utf8mb4)), '''')`;
    case 'binary':
      return `CONCAT('X''', HEX(${c}), '''')`;
    default:
      return `CONCAT('''', CAST(${c} AS CHAR), '''')`;
  }
}
