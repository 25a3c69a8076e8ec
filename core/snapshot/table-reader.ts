/**
 * Reads one table for the snapshot, in the canonical values every sink sees (values.ts): keyset
 * chunks in chunk-key order when the table has a usable key, else one streamed pass cut into chunks.
 */
import type { Connection as CoreConnection } from 'mysql2';
import type { Connection, FieldPacket } from 'mysql2/promise';
import { createRowEvent, rowShape, type BinlogPosition, type ColumnValue, type RowShape } from '../event/index.ts';
import { AbortedError } from '../errors/index.ts';
import type { TaskRunner } from '../runtime/task-runner.ts';
import { ChunkSegment } from './chunk-window.ts';
import { qualifiedName, quoteIdentifier, type TableInfo } from './tables.ts';
import { convertValue, keyParameter, readsBytes } from './values.ts';

/**
 * A column in the SELECT list. FLOAT is read widened to DOUBLE (exact), because the server prints
 * FLOAT with 6 significant digits (123456.789 as "123457"); floatValue then gives the shortest
 * decimal of the float32, as the binlog's 4 bytes give.
 */
function selectExpression(column: TableInfo['columns'][number]): string {
  const name = quoteIdentifier(column.name);
  return column.kind === 'float' ? `(${name} + 0e0) AS ${name}` : name;
}

/** Reads one table: keyset chunks by its chunk key, or one streamed pass without one. */
export class TableReader {
  private readonly select: string;
  private readonly typeCast: (field: { name: string; string(): string | null; buffer(): Buffer | null }, next: () => unknown) => unknown;
  private readonly keyIndexes: number[];
  private shape: RowShape | undefined;

  constructor(
    private readonly info: TableInfo,
    private readonly chunkRows: number,
    private readonly position: BinlogPosition,
  ) {
    const kinds = new Map(info.columns.map((c) => [c.name, c.kind]));
    this.typeCast = (field) => {
      const kind = kinds.get(field.name) ?? 'text';
      return convertValue(kind, readsBytes(kind) ? field.buffer() : field.string());
    };
    this.select = `SELECT ${info.columns.map(selectExpression).join(', ')} FROM ${qualifiedName(info.schema, info.table)}`;
    this.keyIndexes = info.chunkKey.map((name) => info.columns.findIndex((c) => c.name === name));
  }

  /** The next chunk after `lastKey` (key values as stored), in key order. */
  async chunk(conn: Connection, lastKey: unknown[] | undefined): Promise<ColumnValue[][]> {
    const { chunkKey } = this.info;
    const order = chunkKey.map(quoteIdentifier).join(', ');
    let where = '';
    const params: unknown[] = [];
    if (lastKey && lastKey.length === chunkKey.length) {
      // (a > ?) OR (a = ? AND b > ?) ...: a range scan on the key, also where row comparisons are not optimised.
      const terms: string[] = [];
      for (let i = 0; i < chunkKey.length; i++) {
        const parts: string[] = [];
        for (let j = 0; j < i; j++) {
          parts.push(`${quoteIdentifier(chunkKey[j]!)} = ?`);
          params.push(this.param(j, lastKey[j]));
        }
        parts.push(`${quoteIdentifier(chunkKey[i]!)} > ?`);
        params.push(this.param(i, lastKey[i]));
        terms.push(parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`);
      }
      where = ` WHERE ${terms.join(' OR ')}`;
    }
    const [rows] = (await conn.query(
      {
        sql: `${this.select}${where} ORDER BY ${order} LIMIT ${this.chunkRows}`,
        rowsAsArray: true,
        typeCast: this.typeCast as never,
      },
      params,
    )) as [ColumnValue[][], FieldPacket[]];
    return rows;
  }

  /** A table without a usable key: one query, streamed with back-pressure, cut into chunks. */
  async *onePass(conn: CoreConnection, stopping: () => boolean): AsyncGenerator<ColumnValue[][]> {
    const stream = conn.query({ sql: this.select, rowsAsArray: true, typeCast: this.typeCast as never }).stream({ highWaterMark: this.chunkRows });
    let rows: ColumnValue[][] = [];
    try {
      for await (const row of stream as AsyncIterable<ColumnValue[]>) {
        if (stopping()) throw new AbortedError('the snapshot was stopped');
        rows.push(row);
        if (rows.length >= this.chunkRows) {
          yield rows;
          rows = [];
        }
      }
      if (rows.length > 0) yield rows;
    } finally {
      stream.destroy();
    }
  }

  keyOf(row: ColumnValue[]): unknown[] {
    return this.keyIndexes.map((index) => row[index] ?? null);
  }

  private param(keyIndex: number, value: unknown): unknown {
    const column = this.info.columns[this.keyIndexes[keyIndex]!]!;
    return keyParameter(column, column.kind, value as ColumnValue);
  }

  /** Every row as an `insert` event, in one segment for the chunk. */
  send(runner: TaskRunner, rows: ColumnValue[][]): ChunkSegment {
    const now = Date.now();
    const segment = new ChunkSegment(now);
    const { columns, schema, table, primaryKey, columnTypes } = this.info;
    this.shape ??= rowShape(columns.map((c) => c.name));
    const width = columns.length;
    for (const row of rows) {
      const values: ColumnValue[] = new Array<ColumnValue>(width);
      for (let i = 0; i < width; i++) values[i] = row[i] ?? null;
      const event = createRowEvent(
        { schema, table, action: 'insert', position: this.position, timestamp: now, primaryKey, columnTypes },
        { shape: this.shape, count: 1, values, before: undefined },
      );
      runner.accept(event, segment);
    }
    segment.close();
    return segment;
  }
}
