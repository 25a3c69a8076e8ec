/**
 * The source server besides its replication stream: one control connection (opened on demand,
 * opened again after it drops) for the checks made before reading (binary logging on, ROW format,
 * FULL row images), the server's version, flavor (MariaDB or MySQL) and collation ids, the list of
 * binary logs, and where reading starts. The table plans read table metadata over the same
 * connection.
 */
import mysql from 'mysql2/promise';
import { copyPosition, type BinlogPosition } from '../event/index.ts';
import { PositionUnavailableError, SourceError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { describeError, mysqlConnectionOptions } from './mysql-connection.ts';
import type { SourceConnection, StartFrom } from './source.ts';

export interface ServerInfo {
  version: string;
  isMariaDb: boolean;
  /** Collation id -> character set name, from the server itself (MariaDB ids differ from MySQL's). */
  collations: Map<number, string>;
}

export interface BinaryLog {
  file: string;
  size: number;
}

export class SourceServer {
  /** What inspect() found; undefined before it ran. */
  info: ServerInfo | undefined;
  /** host:port, for messages. */
  readonly where: string;
  private control: mysql.Connection | undefined;

  constructor(
    private readonly options: SourceConnection,
    private readonly logger: Logger,
  ) {
    this.where = `${options.host}:${options.port}`;
  }

  /** The control connection, opened if there is none. */
  async connection(): Promise<mysql.Connection> {
    if (this.control) return this.control;
    const control = await mysql.createConnection(mysqlConnectionOptions(this.options));
    control.on('error', () => {
      if (this.control === control) this.control = undefined;
    });
    this.control = control;
    return control;
  }

  /** Drops the control connection after an error on it; the next use opens a new one. */
  drop(): void {
    const control = this.control;
    this.control = undefined;
    if (control) control.destroy();
  }

  async close(): Promise<void> {
    const control = this.control;
    this.control = undefined;
    if (control) await control.end().catch(() => control.destroy());
  }

  /**
   * Checks that the server writes a binlog Tunnel can read (SourceError otherwise) and learns its
   * version, flavor and collations; once per source.
   */
  async inspect(): Promise<ServerInfo> {
    this.info ??= await this.readInfo();
    return this.info;
  }

  private async readInfo(): Promise<ServerInfo> {
    const control = await this.connection();
    const [rows] = await control.query<mysql.RowDataPacket[]>(
      'SELECT VERSION() AS version, @@GLOBAL.log_bin AS logBin, @@GLOBAL.binlog_format AS format, @@GLOBAL.binlog_row_image AS image',
    );
    const row = rows[0]!;
    const version = String(row.version);
    const isMariaDb = /mariadb/i.test(version);
    if (String(row.logBin) !== '1' && String(row.logBin).toUpperCase() !== 'ON') {
      throw new SourceError(`binary logging is off on ${this.where} (log_bin=${row.logBin}); Tunnel reads the binlog`);
    }
    if (String(row.format).toUpperCase() !== 'ROW') {
      throw new SourceError(`binlog_format is ${row.format} on ${this.where}; Tunnel needs ROW (statement-logged changes would be missed)`, {
        binlogFormat: row.format,
      });
    }
    if (String(row.image).toUpperCase() !== 'FULL') {
      throw new SourceError(`binlog_row_image is ${row.image} on ${this.where}; Tunnel needs FULL (every column of every row)`, {
        binlogRowImage: row.image,
      });
    }
    try {
      const [meta] = await control.query<mysql.RowDataPacket[]>('SELECT @@GLOBAL.binlog_row_metadata AS metadata');
      const metadata = String(meta[0]?.metadata ?? '');
      if (metadata.toUpperCase() !== 'FULL') {
        this.logger.warn(
          { binlogRowMetadata: metadata },
          'binlog_row_metadata is not FULL: column names come from INFORMATION_SCHEMA, which is wrong for binlog written before a schema change',
        );
      }
    } catch {
      this.logger.warn('the server has no binlog_row_metadata: column names come from INFORMATION_SCHEMA');
    }
    const [collationRows] = await control.query<mysql.RowDataPacket[]>('SELECT ID AS id, CHARACTER_SET_NAME AS charset FROM information_schema.COLLATIONS');
    const collations = new Map<number, string>();
    for (const c of collationRows) collations.set(Number(c.id), String(c.charset));
    return { version, isMariaDb, collations };
  }

  /** The server's binary logs, oldest first. */
  async binaryLogs(): Promise<BinaryLog[]> {
    const control = await this.connection();
    let rows: mysql.RowDataPacket[];
    try {
      [rows] = await control.query<mysql.RowDataPacket[]>('SHOW BINARY LOGS');
    } catch (error) {
      throw new SourceError(`cannot list the binary logs on ${this.where}: ${describeError(error)}`, {}, { cause: error });
    }
    const logs = rows.map((r) => ({ file: String(r.Log_name), size: Number(r.File_size) }));
    if (logs.length === 0) throw new SourceError(`the server ${this.where} has no binary logs`);
    return logs;
  }

  /** Where reading starts: the end of the newest binlog, the start of the oldest, or a stored position the server still has. */
  async resolveStart(from: StartFrom): Promise<BinlogPosition> {
    const logs = await this.binaryLogs();
    if (from.kind === 'latest') {
      const last = logs[logs.length - 1]!;
      return { file: last.file, offset: last.size };
    }
    if (from.kind === 'earliest') return { file: logs[0]!.file, offset: 4 };
    this.checkPosition(from.position, logs);
    return copyPosition(from.position);
  }

  /** Rejects with PositionUnavailableError unless the server still has the binlog at `position`. */
  async checkAvailable(position: BinlogPosition): Promise<void> {
    this.checkPosition(position, await this.binaryLogs());
  }

  private checkPosition(position: BinlogPosition, logs: BinaryLog[]): void {
    const oldest = logs[0]!.file;
    const log = logs.find((l) => l.file === position.file);
    if (!log) {
      throw new PositionUnavailableError(
        `binlog file ${position.file} (position ${position.file}:${position.offset}) is no longer on ${this.where}; ` +
          `the oldest binlog available is ${oldest}. Events between them are lost to Tunnel: ` +
          `resync the sinks and restart from "earliest" or "latest" deliberately`,
        { requested: position, oldestAvailable: oldest, available: logs.map((l) => l.file) },
      );
    }
    if (position.offset < 4 || position.offset > log.size) {
      throw new PositionUnavailableError(`position ${position.file}:${position.offset} is outside ${position.file} (4..${log.size}) on ${this.where}`, {
        requested: position,
        fileSize: log.size,
        oldestAvailable: oldest,
      });
    }
  }
}
