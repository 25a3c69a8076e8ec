/**
 * The source server besides its replication stream: one control connection (opened on demand,
 * opened again after it drops) for the checks made before reading (binary logging on, ROW format,
 * FULL row images), the server's version, flavor (MariaDB or MySQL) and collation ids, the list of
 * binary logs, and where reading starts. The table plans read table metadata over the same
 * connection.
 */
import mysql from 'mysql2/promise';
import type { BinlogPosition } from '../event/index.ts';
import { PositionUnavailableError, SourceError, tlsError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import type { GtidFlavor } from './gtid-set.ts';
import { describeError, mysqlConnectionOptions } from './mysql-connection.ts';
import { gtidsOn, serverIdentity } from './server-gtids.ts';
import type { SourceConnection } from './source.ts';

export interface ServerInfo {
  version: string;
  isMariaDb: boolean;
  /** Collation id -> character set name, from the server itself (MariaDB ids differ from MySQL's). */
  collations: Map<number, string>;
  /** MariaDB @@server_id, MySQL @@server_uuid: which server's binlog file names and offsets these are. */
  identity: string;
  /** Whether every transaction has a GTID (MariaDB always; MySQL with gtid_mode=ON). */
  gtids: boolean;
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
    /** How to reach this server (the binlog connection uses the same). */
    readonly options: SourceConnection,
    private readonly logger: Logger,
  ) {
    this.where = `${options.host}:${options.port}`;
  }

  /** The control connection, opened if there is none. */
  async connection(): Promise<mysql.Connection> {
    if (this.control) return this.control;
    let control: mysql.Connection;
    try {
      control = await mysql.createConnection(mysqlConnectionOptions(this.options));
    } catch (error) {
      throw tlsError(`the source database ${this.where}`, error) ?? error;
    }
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
   * version, flavor, collations and identity; again on every call with `refresh` (before each
   * connection: behind one address there may now be another server, e.g. a virtual IP moved).
   */
  async inspect(refresh = false): Promise<ServerInfo> {
    if (!this.info || refresh) this.info = await this.readInfo();
    return this.info;
  }

  get flavor(): GtidFlavor {
    return this.info?.isMariaDb === false ? 'mysql' : 'mariadb';
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
    const flavor = isMariaDb ? 'mariadb' : 'mysql';
    return { version, isMariaDb, collations, identity: await serverIdentity(control, flavor), gtids: await gtidsOn(control, flavor) };
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

  /** PositionUnavailableError unless the server still has the binlog at `position`, given its binary logs. */
  missing(position: BinlogPosition, logs: BinaryLog[]): PositionUnavailableError | undefined {
    const oldest = logs[0]!.file;
    const log = logs.find((l) => l.file === position.file);
    if (!log) {
      return new PositionUnavailableError(
        `binlog file ${position.file} (position ${position.file}:${position.offset}) is no longer on ${this.where}; ` +
          `the oldest binlog available is ${oldest}. Events between them are lost to Tunnel: ` +
          `resync the sinks and restart from "earliest" or "latest" deliberately`,
        { requested: position, oldestAvailable: oldest, available: logs.map((l) => l.file) },
      );
    }
    if (position.offset < 4 || position.offset > log.size) {
      return new PositionUnavailableError(`position ${position.file}:${position.offset} is outside ${position.file} (4..${log.size}) on ${this.where}`, {
        requested: position,
        fileSize: log.size,
        oldestAvailable: oldest,
      });
    }
    return undefined;
  }
}
