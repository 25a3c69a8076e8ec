/**
 * The parts of @vlasky/zongji 0.9 (pinned by the lock file) that the source uses beyond its public
 * API, typed in one place so an upgrade shows every dependency at a glance:
 *
 * - `BinlogClass.prototype.binlogData`, the per-packet state of zongji's binlog command (created right
 *   before 'ready'): wrapped so rows events are decoded here, straight from the packet, while every
 *   other event still goes through zongji.
 * - `tableMap`, `useChecksum`, `isMariaDb`, `connection` (the mysql2 binlog connection, whose
 *   pause()/resume() give back-pressure) and `_skipSchema` (the table-map filter).
 * - lib/common.js `readMysqlValue`, `uncompressBinlogEventPayload` and lib/reader.js `Parser`, for the
 *   rare column types decoded by zongji itself (pre-5.6 temporal types, legacy DECIMAL) and MariaDB's
 *   compressed events.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EventEmitter } from 'node:events';

export interface ZColumn {
  name: string;
  charset: string | null;
  type: number;
  metadata?: Record<string, number>;
}

export interface ZColumnSchema {
  COLUMN_NAME: string;
  CHARACTER_SET_NAME: string | null;
  COLUMN_TYPE: string;
  UNSIGNED?: boolean;
  ENUM_VALUES?: string[];
  SET_VALUES?: string[];
}

export interface ZTableMapEntry {
  columnSchemas: ZColumnSchema[];
  parentSchema: string;
  tableName: string;
  columns?: ZColumn[];
}

/** mysql2's packet as zongji's command sees it. */
export interface ZPacket {
  buffer: Buffer;
  offset: number;
  end: number;
  isEOF(): boolean;
  isError(): boolean;
}

/** The mysql2 connection zongji streams the binlog over. */
export interface ZConnection {
  pause(): void;
  resume(): void;
  query(sql: string, callback: (error: Error | null) => void): void;
  threadId?: number | null;
  _paused?: boolean;
}

export type BinlogData = (this: unknown, packet: ZPacket, connection: unknown) => unknown;

export interface ZEvent {
  getTypeName(): string;
  timestamp: number;
  nextPosition: number;
  [key: string]: unknown;
}

export interface ZTableMapEvent extends ZEvent {
  tableId: number;
  schemaName: string;
  tableName: string;
  columnCount: number;
  primaryKey?: number[];
  /** Present with binlog_row_metadata=FULL: the names as they were when the event was written. */
  columnNames?: string[];
  _columnCharsetIds?: (number | undefined)[];
}

export interface ZongJiInternal extends EventEmitter {
  start(options: Record<string, unknown>): void;
  stop(): void;
  BinlogClass?: { prototype: { binlogData: BinlogData } };
  connection: ZConnection | null;
  tableMap: Record<number, ZTableMapEntry>;
  useChecksum: boolean;
  isMariaDb: boolean;
  _skipSchema(schema: string, table: string): boolean;
}

export interface ZParser {
  append(buffer: Buffer): void;
  _offset: number;
}

interface ZCommon {
  readMysqlValue(parser: ZParser, column: ZColumn, columnSchema: ZColumnSchema, tableMap: ZTableMapEntry, zongji: unknown): unknown;
  uncompressBinlogEventPayload(buffer: Buffer): Buffer;
}

const require = createRequire(import.meta.url);
const zongjiDir = dirname(require.resolve('@vlasky/zongji'));
const common = (await import(pathToFileURL(join(zongjiDir, 'lib/common.js')).href)) as ZCommon;
const reader = (await import(pathToFileURL(join(zongjiDir, 'lib/reader.js')).href)) as { Parser: new () => ZParser };

/** What readMysqlValue reads from its zongji argument: exact strings for dates, UTC for TIMESTAMP. */
const decodeContext = {
  connection: { config: { dateStrings: true, timezone: 'Z' } },
  emit: () => false,
};

/** zongji's decoder for one value at buf[pos]; returns the value and the position after it. */
export function zongjiReadValue(
  buf: Buffer,
  pos: number,
  column: ZColumn,
  columnSchema: ZColumnSchema,
  table: ZTableMapEntry,
): { value: unknown; end: number } {
  const parser = new reader.Parser();
  parser.append(buf);
  parser._offset = pos;
  const value = common.readMysqlValue(parser, column, columnSchema, table, decodeContext);
  return { value, end: parser._offset };
}

export const zongjiUncompress = (bytes: Buffer): Buffer => common.uncompressBinlogEventPayload(bytes);
