/**
 * Table plans: for each table map of an included table, the column names, one decoder per column
 * and the primary key, built once and kept while the table's table map stays byte for byte the same
 * (every transaction repeats it). Table maps of excluded tables are recognised from their first
 * bytes and never parsed; their rows events are skipped by table id. What a table map lacks comes
 * from the server before the plan is built (prepare()): the table's INFORMATION_SCHEMA extras
 * (table-metadata.ts), read once per table and again after a DDL statement, and the server's
 * decoding of each character set its columns use (charset-tables.ts), read once per source.
 */
import type { RowDataPacket } from 'mysql2/promise';
import type { ColumnTypeInfo, TableMatcher } from '../event/index.ts';
import { describeColumn, parseTableMap, type TableMapColumn } from './table-map.ts';
import { DecodeError, SourceError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { ServerCharsets } from './charset-tables.ts';
import { ColumnType, columnDecoder, type ColumnSpec, type DecodeSupport } from './decode.ts';
import { parseEnumSetDefinition } from './value-text.ts';
import { rowShape } from '../event/index.ts';
import type { TablePlan } from './rows.ts';
import type { SourceServer } from './server.ts';
import { readTableExtras, type TableExtras } from './table-metadata.ts';
import { zongjiReadValue, type ZColumn, type ZColumnSchema, type ZTableMapEntry, type ZTableMapEvent } from './zongji-internals.ts';

const BINARY_COLLATION = 63;

/**
 * A column's type as information_schema would give it, from zongji's description (COLUMN_TYPE)
 * with the signedness read by Tunnel and the JSON or MariaDB UUID/INET nature the table map lacks;
 * used where Tunnel's own reading of the table map is not at hand.
 */
function columnTypeInfo(described: string, unsigned: boolean, logical: string | undefined): ColumnTypeInfo {
  const base = described
    .toLowerCase()
    .replace(/\s*\/\*.*?\*\//g, '')
    .replace(/\s+unsigned\b/, '')
    .trim();
  const dataType = logical ?? /^[a-z]+/.exec(base)?.[0] ?? '';
  const numeric = /^(tinyint|smallint|mediumint|int|bigint|decimal|float|double)\b/.test(base);
  return Object.freeze({ dataType, columnType: logical ?? (numeric && unsigned ? `${base} unsigned` : base) });
}

export class TablePlans {
  /** Plans by table id for the open transaction; null: an excluded table. */
  private readonly plans = new Map<number, TablePlan | null>();
  private readonly extras = new Map<string, TableExtras>();
  private readonly warnedNoKey = new Set<string>();
  /** Plans by table id, with the table-map bytes they were built from and the DDL epoch. */
  private readonly cache = new Map<number, { body: Buffer; epoch: number; plan: TablePlan }>();
  /** Table maps zongji is parsing: their bytes, and Tunnel's own reading of them once made. */
  private readonly pending = new Map<number, { body: Buffer; epoch: number; columns?: TableMapColumn[] }>();
  /** Incremented by every DDL statement: metadata read from INFORMATION_SCHEMA is stale after it. */
  private schemaEpoch = 0;
  private commitsSinceSweep = 0;
  private readonly support: DecodeSupport;
  /** How the server decodes each character set, read once per source. */
  private readonly charsets: ServerCharsets;

  constructor(
    private readonly filter: TableMatcher,
    /**
     * The source server being read (another one after a move to another server of the topology):
     * its collations and flavor (once inspected), table metadata, character sets.
     */
    private readonly currentServer: () => SourceServer,
    private readonly logger: Logger,
  ) {
    this.charsets = new ServerCharsets(async () => {
      const control = await this.server.connection();
      return { query: async (sql) => (await control.query<RowDataPacket[]>(sql))[0] };
    }, logger);
    this.support = {
      textReader: (charset) => {
        const reader = this.charsets.reader(charset);
        if (!reader) throw new DecodeError(`character set ${charset} was not read from the server before the table was`);
        return reader;
      },
      fallback: (c, spec) => {
        const native = spec.native as { column: ZColumn; schema: ZColumnSchema; table: ZTableMapEntry };
        const { value, end } = zongjiReadValue(c.buf, c.pos, native.column, native.schema, native.table);
        c.pos = end;
        // classic TIMESTAMP: zongji gives 'YYYY-MM-DD HH:MM:SS[.f]' in UTC; make it the instant form
        if (spec.type === ColumnType.TIMESTAMP && typeof value === 'string' && !value.startsWith('0000-00-00')) {
          return `${value.replace(' ', 'T')}Z`;
        }
        return value;
      },
      warn: (message, detail) => this.logger.warn(detail, message),
    };
  }

  /** The plan for a rows event's table id: null for an excluded table, undefined when its table map was not seen. */
  get(tableId: number): TablePlan | null | undefined {
    return this.plans.get(tableId);
  }

  private get server(): SourceServer {
    return this.currentServer();
  }

  /**
   * What add() needs from the server for a table map zongji parsed: undefined when it has all of
   * it, else a promise that reads it (the table's extras, the character sets not read yet).
   */
  prepare(event: ZTableMapEvent, entry: ZTableMapEntry): Promise<void> | undefined {
    const key = `${event.schemaName}.${event.tableName}`;
    const charsets = this.charsets.missing(this.columnCharsets(event, entry).filter((c): c is string => c !== null));
    const extras = this.extras.has(key);
    if (extras && charsets.length === 0) return undefined;
    const readExtras = extras ? undefined : readTableExtras(this.server, event.schemaName, event.tableName).then((read) => void this.extras.set(key, read));
    return Promise.all([readExtras, this.charsets.load(charsets)]).then(() => undefined);
  }

  /** Builds (or throws SourceError/DecodeError) and keeps the plan of a table map zongji parsed, once prepare() has nothing left to read. */
  add(event: ZTableMapEvent, entry: ZTableMapEntry): void {
    const extras = this.extras.get(`${event.schemaName}.${event.tableName}`);
    if (!extras) throw new SourceError(`the metadata of ${event.schemaName}.${event.tableName} was not read before its table map`);
    this.remember(event.tableId, this.build(event, entry, extras));
  }

  /** A new connection: table ids are only known from its own table maps. */
  newConnection(): void {
    this.plans.clear();
    this.pending.clear();
  }

  /**
   * A transaction ended. Table maps never outlive their transaction: the per-table-id state is
   * dropped so it does not grow with the server's table ids (a long-running task sees new ones after
   * every DDL and table-cache reload).
   */
  endTransaction(zongjiTableMap: Record<number, ZTableMapEntry> | undefined): void {
    this.plans.clear();
    if (zongjiTableMap && ++this.commitsSinceSweep >= 10_000) {
      this.commitsSinceSweep = 0;
      // zongji keeps one entry per table id forever; drop them now and then (the next table map of a
      // table rebuilds its entry; without FULL metadata that is one INFORMATION_SCHEMA read).
      if (Object.keys(zongjiTableMap).length > 1_000) for (const id of Object.keys(zongjiTableMap)) delete zongjiTableMap[Number(id)];
    }
  }

  /** A DDL statement: column lists may have changed, so table metadata is read again. */
  schemaChanged(): void {
    this.extras.clear();
    this.schemaEpoch += 1;
  }

  /**
   * Sets up the table id of a table map before zongji sees it. Returns true when the table map is
   * handled here and zongji need not parse it: the table is excluded (its rows are then skipped
   * undecoded), or the table map is byte for byte the one a cached plan was built from.
   */
  beforeTableMap(buf: Buffer, body: number, end: number): boolean {
    const tableId = buf.readUIntLE(body, 6);
    let q = body + 8;
    const schemaLength = buf[q]!;
    const schema = buf.toString('utf8', q + 1, q + 1 + schemaLength);
    q += 1 + schemaLength + 1;
    const tableLength = buf[q]!;
    const table = buf.toString('utf8', q + 1, q + 1 + tableLength);
    if (!this.filter(schema, table)) {
      this.plans.set(tableId, null);
      return true;
    }
    const bytes = buf.subarray(body, end);
    const cached = this.cache.get(tableId);
    if (cached && cached.epoch === this.schemaEpoch && cached.body.equals(bytes)) {
      this.plans.set(tableId, cached.plan);
      return true;
    }
    this.plans.delete(tableId);
    this.pending.set(tableId, { body: Buffer.from(bytes), epoch: this.schemaEpoch });
    return false;
  }

  /** Keeps a plan for identical table maps of later transactions (every transaction repeats them). */
  private remember(tableId: number, plan: TablePlan): void {
    this.plans.set(tableId, plan);
    const pending = this.pending.get(tableId);
    this.pending.delete(tableId);
    if (!pending) return;
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(tableId, { ...pending, plan });
  }

  private build(event: ZTableMapEvent, entry: ZTableMapEntry, extras: TableExtras): TablePlan {
    const columns = entry.columns!;
    const key = `${event.schemaName}.${event.tableName}`;
    if (!event.columnNames && entry.columnSchemas.length !== event.columnCount) {
      // Without FULL metadata the names come from the table's current definition, by position; when
      // the column count differs, the binlog predates a schema change and names would be guessed.
      throw new SourceError(
        `the binlog's table map of ${key} has ${event.columnCount} columns, the table now has ${entry.columnSchemas.length}: ` +
          'this binlog was written before a schema change and names cannot be known without binlog_row_metadata=FULL',
        { table: key },
      );
    }
    // The binlog's own names (FULL metadata) win over INFORMATION_SCHEMA's, which zongji uses for
    // tables it must describe from there (MariaDB's ambiguous pre-5.6 temporal columns).
    const names = columns.map((c, i) => event.columnNames?.[i] ?? c.name);
    const own = this.ownColumns(event.tableId);
    const charsets = this.columnCharsets(event, entry);
    const columnTypes: Record<string, ColumnTypeInfo> = {};
    const decoders = columns.map((column, i) => {
      const schema = entry.columnSchemas[i] ?? ({ COLUMN_NAME: column.name, CHARACTER_SET_NAME: null, COLUMN_TYPE: '' } as ZColumnSchema);
      const mine = own?.[i];
      const unsigned = mine?.unsigned ?? schema.UNSIGNED ?? /unsigned/i.test(schema.COLUMN_TYPE);
      const spec: ColumnSpec = {
        name: names[i]!,
        type: column.type,
        metadata: column.metadata ?? {},
        unsigned,
        charset: charsets[i]!,
        json: extras.jsonColumns.has(names[i]!),
        native: { column, schema, table: entry },
      };
      const logical = extras.logical.get(names[i]!);
      if (logical !== undefined && spec.charset === null) spec.logical = logical;
      // ENUM/SET labels: the table map's own bytes (FULL metadata) in the column's character set,
      // read like its text; else the definition as INFORMATION_SCHEMA prints it
      const labels =
        mine?.members !== undefined
          ? this.labels(mine.members, spec.charset)
          : column.type === ColumnType.ENUM
            ? (schema.ENUM_VALUES ?? parseEnumSetDefinition(schema.COLUMN_TYPE))
            : (schema.SET_VALUES ?? parseEnumSetDefinition(schema.COLUMN_TYPE));
      if (column.type === ColumnType.ENUM) spec.enumValues = labels;
      if (column.type === ColumnType.SET) spec.setValues = labels;
      const logicalType = spec.json === true ? 'json' : spec.logical;
      columnTypes[names[i]!] = mine
        ? Object.freeze(logicalType ? { dataType: logicalType, columnType: logicalType } : describeColumn(mine, spec.charset, labels))
        : columnTypeInfo(schema.COLUMN_TYPE, unsigned, logicalType);
      return columnDecoder(spec, this.support);
    });
    let primaryKey: string[];
    if (event.primaryKey && event.primaryKey.length > 0) {
      primaryKey = event.primaryKey.map((i) => names[i]!).filter((n) => n !== undefined);
    } else {
      primaryKey = extras.primaryKey.filter((n) => names.includes(n));
    }
    if (primaryKey.length === 0 && !this.warnedNoKey.has(key)) {
      this.warnedNoKey.add(key);
      this.logger.warn({ table: key }, 'table has no primary key: sinks key its rows by all columns');
    }
    // shared by every event of the table map: frozen so a plugin cannot change it for the others
    return {
      schema: event.schemaName,
      table: event.tableName,
      names,
      shape: rowShape(names),
      decoders,
      primaryKey: Object.freeze(primaryKey) as string[],
      columnTypes: Object.freeze(columnTypes),
    };
  }

  /**
   * Tunnel's own reading of a pending table map, which knows each server's column classes (zongji
   * reads a MariaDB table map with MySQL's, shifting the charsets of every column after a GEOMETRY
   * one); undefined where the event bytes are not at hand.
   */
  private ownColumns(tableId: number): TableMapColumn[] | undefined {
    const pending = this.pending.get(tableId);
    if (!pending) return undefined;
    pending.columns ??= parseTableMap(pending.body, 0, pending.body.length, this.server.info?.isMariaDb ? 'mariadb' : 'mysql').columns;
    return pending.columns;
  }

  /**
   * Each column's character set (null: binary or none): the collation id of Tunnel's reading of the
   * table map, else zongji's, mapped by the server's own collation table.
   */
  private columnCharsets(event: ZTableMapEvent, entry: ZTableMapEntry): (string | null)[] {
    const own = this.ownColumns(event.tableId);
    return entry.columns!.map((column, i) => {
      const id = own?.[i]?.collation ?? event._columnCharsetIds?.[i];
      if (id === undefined) return column.charset;
      if (id === BINARY_COLLATION) return null;
      return this.server.info?.collations.get(id) ?? column.charset;
    });
  }

  /** ENUM/SET labels from the table map's bytes, read in the column's character set. */
  private labels(members: Buffer[], charset: string | null): string[] {
    const read = charset === null ? undefined : this.support.textReader(charset);
    return members.map((m) => (read ? read(m, 0, m.length) : m.toString('utf8')));
  }
}
