/**
 * The TABLE_MAP event, read by Tunnel itself: column types, per-type metadata and the optional
 * metadata block (`binlog_row_metadata`), with the rules of the server that wrote it.
 *
 * The optional metadata lists charsets, signedness, ENUM/SET values and geometry types for a
 * *class* of columns rather than for every column, so reading it needs each server's notion of the
 * class. MariaDB and MySQL differ: MariaDB counts GEOMETRY columns among the character columns
 * (their charset is `binary`), MySQL does not. Reading a MariaDB table map with MySQL's rule gives
 * every text or binary column after a GEOMETRY column the charset of the column before it.
 *
 * Layout (both servers): table id (6), flags (2), schema (1 + n + NUL), table (1 + n + NUL), column
 * count (length-encoded), column types (one byte each), metadata (length-encoded size, then per
 * type 0-2 bytes), NULL bitmap, then optional metadata fields, each type (1), length
 * (length-encoded), value.
 */
import { SourceError } from '../errors/index.ts';
import { ColumnType, type ColumnMetadata } from './decode.ts';

export type ServerFlavor = 'mariadb' | 'mysql';

/** Optional metadata field types (MySQL's `Table_map_log_event::Optional_metadata_field_type`). */
const Field = {
  SIGNEDNESS: 1,
  DEFAULT_CHARSET: 2,
  COLUMN_CHARSET: 3,
  COLUMN_NAME: 4,
  SET_STR_VALUE: 5,
  ENUM_STR_VALUE: 6,
  GEOMETRY_TYPE: 7,
  SIMPLE_PRIMARY_KEY: 8,
  PRIMARY_KEY_WITH_PREFIX: 9,
  ENUM_AND_SET_DEFAULT_CHARSET: 10,
  ENUM_AND_SET_COLUMN_CHARSET: 11,
  COLUMN_VISIBILITY: 12,
} as const;

export interface TableMapColumn {
  /** The real type: ENUM and SET are resolved from a STRING column's metadata. */
  type: number;
  metadata: ColumnMetadata;
  nullable: boolean;
  /** From FULL metadata; undefined without it. */
  name?: string;
  /** Numeric columns with SIGNEDNESS metadata. */
  unsigned?: boolean;
  /** Collation id of a character, ENUM or SET column (63 is binary), with charset metadata. */
  collation?: number;
  /** ENUM or SET members as raw bytes in the column's charset (FULL metadata). */
  members?: Buffer[];
  /** Field_geom::geometry_type of a GEOMETRY column (FULL metadata). */
  geometryType?: number;
  /** MySQL 8.0.23+: false for an INVISIBLE column. */
  visible?: boolean;
}

export interface TableMap {
  tableId: number;
  schema: string;
  table: string;
  columns: TableMapColumn[];
  /** Primary-key column indexes in key order (FULL metadata); undefined without it. */
  primaryKey?: number[];
  /** Whether column names came with the event (binlog_row_metadata=FULL). */
  hasNames: boolean;
}

/** GEOMETRY_TYPE values (Field_geom::geometry_type) as DATA_TYPE names. */
export const GEOMETRY_TYPE_NAMES = ['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection'];

/** Whether the SIGNEDNESS bitmap has a bit for a column of this real type. */
function isNumeric(type: number): boolean {
  switch (type) {
    case ColumnType.YEAR:
      // both servers give YEAR a bit (an unsigned TINYINT underneath), although MySQL's mysqlbinlog
      // leaves it out when it prints the metadata; checked against each server's binlog
      return true;
    case ColumnType.TINY:
    case ColumnType.SHORT:
    case ColumnType.INT24:
    case ColumnType.LONG:
    case ColumnType.LONGLONG:
    case ColumnType.NEWDECIMAL:
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
      return true;
    default:
      return false;
  }
}

/** Whether the charset lists have an entry for a column of this real type. */
function isCharacter(type: number, flavor: ServerFlavor): boolean {
  switch (type) {
    case ColumnType.STRING:
    case ColumnType.VAR_STRING:
    case ColumnType.VARCHAR:
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.BLOB_COMPRESSED:
    case ColumnType.VARCHAR_COMPRESSED:
      return true;
    case ColumnType.GEOMETRY:
      // MariaDB's writer includes every field with a charset, and a geometry field is a BLOB with
      // the binary charset; MySQL's is_character_type() leaves GEOMETRY out.
      return flavor === 'mariadb';
    default:
      return false;
  }
}

function isEnumOrSet(type: number): boolean {
  return type === ColumnType.ENUM || type === ColumnType.SET;
}

/** A bounded reader over one event body; every read past `end` is a SourceError, never garbage. */
class Reader {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.end) throw new SourceError(`table map event is truncated (need ${n} bytes at ${this.pos}, ends at ${this.end})`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  uint(n: number): number {
    this.need(n);
    const v = this.buf.readUIntLE(this.pos, n);
    this.pos += n;
    return v;
  }

  /** A length-encoded integer (MySQL packed integer). */
  packed(): number {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.uint(2);
    if (first === 0xfd) return this.uint(3);
    if (first === 0xfe) {
      const lo = this.uint(4);
      const hi = this.uint(4);
      return hi * 0x1_0000_0000 + lo;
    }
    throw new SourceError(`table map event has an invalid length-encoded integer (0x${first.toString(16)}) at ${this.pos - 1}`);
  }

  bytes(n: number): Buffer {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A string with a length-encoded length. */
  packedBytes(): Buffer {
    return this.bytes(this.packed());
  }
}

/** Per-type metadata, named as the row decoders read it. */
function readMetadata(r: Reader, type: number): { type: number; metadata: ColumnMetadata } {
  switch (type) {
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
      return { type, metadata: { size: r.u8() } };
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.GEOMETRY:
    case ColumnType.JSON:
    case ColumnType.BLOB_COMPRESSED:
      return { type, metadata: { length_size: r.u8() } };
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
    case ColumnType.VARCHAR_COMPRESSED:
      return { type, metadata: { max_length: r.u16() } };
    case ColumnType.NEWDECIMAL: {
      const precision = r.u8();
      return { type, metadata: { precision, decimals: r.u8() } };
    }
    case ColumnType.BIT: {
      const bits = r.u8();
      const bytes = r.u8();
      return { type, metadata: { bits: bytes * 8 + bits } };
    }
    case ColumnType.STRING:
    case ColumnType.ENUM:
    case ColumnType.SET: {
      const b0 = r.u8();
      const b1 = r.u8();
      // CHAR(n) over 255 bytes keeps two high bits of its length in the real-type byte, XOR 0x30.
      if ((b0 & 0x30) !== 0x30) return { type: b0 | 0x30, metadata: { max_length: b1 | (((b0 & 0x30) ^ 0x30) << 4) } };
      if (b0 === ColumnType.ENUM || b0 === ColumnType.SET) return { type: b0, metadata: { size: b1 } };
      return { type: b0, metadata: { max_length: b1 } };
    }
    case ColumnType.TIMESTAMP2:
    case ColumnType.DATETIME2:
    case ColumnType.TIME2:
      return { type, metadata: { decimals: r.u8() } };
    default:
      return { type, metadata: {} };
  }
}

/**
 * Parses a TABLE_MAP event body (`buf[start, end)`, after the common header, without checksum).
 * `flavor` is the server that wrote it (its optional-metadata rules differ; see the file comment).
 */
export function parseTableMap(buf: Buffer, start: number, end: number, flavor: ServerFlavor): TableMap {
  const r = new Reader(buf, start, end);
  const tableId = r.uint(6);
  r.u16(); // flags
  const schema = r.bytes(r.u8()).toString('utf8');
  r.u8();
  const table = r.bytes(r.u8()).toString('utf8');
  r.u8();
  const count = r.packed();
  const rawTypes = r.bytes(count);
  const metadataSize = r.packed();
  const metadataEnd = r.pos + metadataSize;
  const columns: TableMapColumn[] = [];
  for (let i = 0; i < count; i++) {
    const { type, metadata } = readMetadata(r, rawTypes[i]!);
    columns.push({ type, metadata, nullable: false });
  }
  if (r.pos !== metadataEnd)
    throw new SourceError(`table map of ${schema}.${table}: column metadata is ${metadataSize} bytes, read ${r.pos - (metadataEnd - metadataSize)}`);
  const nulls = r.bytes((count + 7) >>> 3);
  for (let i = 0; i < count; i++) columns[i]!.nullable = (nulls[i >>> 3]! & (1 << (i & 7))) !== 0;

  const map: TableMap = { tableId, schema, table, columns, hasNames: false };
  const numeric = columns.flatMap((c, i) => (isNumeric(c.type) ? [i] : []));
  const character = columns.flatMap((c, i) => (isCharacter(c.type, flavor) ? [i] : []));
  const enumSet = columns.flatMap((c, i) => (isEnumOrSet(c.type) ? [i] : []));
  const ofType = (type: number) => columns.flatMap((c, i) => (c.type === type ? [i] : []));

  while (r.pos < r.end) {
    const fieldType = r.u8();
    const length = r.packed();
    const field = new Reader(buf, r.pos, r.pos + length);
    r.bytes(length);
    switch (fieldType) {
      case Field.SIGNEDNESS:
        // one bit per numeric column, most significant bit first
        numeric.forEach((column, n) => {
          const byte = field.buf[field.pos + (n >>> 3)];
          if (byte !== undefined && field.pos + (n >>> 3) < field.end) columns[column]!.unsigned = (byte & (0x80 >>> (n & 7))) !== 0;
        });
        break;
      case Field.DEFAULT_CHARSET:
      case Field.ENUM_AND_SET_DEFAULT_CHARSET: {
        const targets = fieldType === Field.DEFAULT_CHARSET ? character : enumSet;
        const fallback = field.packed();
        const exceptions = new Map<number, number>();
        while (field.pos < field.end) {
          const n = field.packed();
          exceptions.set(n, field.packed());
        }
        targets.forEach((column, n) => (columns[column]!.collation = exceptions.get(n) ?? fallback));
        break;
      }
      case Field.COLUMN_CHARSET:
      case Field.ENUM_AND_SET_COLUMN_CHARSET: {
        const targets = fieldType === Field.COLUMN_CHARSET ? character : enumSet;
        for (const column of targets) {
          if (field.pos >= field.end) break;
          columns[column]!.collation = field.packed();
        }
        break;
      }
      case Field.COLUMN_NAME:
        for (const column of columns) column.name = field.packedBytes().toString('utf8');
        map.hasNames = true;
        break;
      case Field.SET_STR_VALUE:
      case Field.ENUM_STR_VALUE:
        for (const column of ofType(fieldType === Field.SET_STR_VALUE ? ColumnType.SET : ColumnType.ENUM)) {
          if (field.pos >= field.end) break;
          const n = field.packed();
          const members: Buffer[] = [];
          for (let k = 0; k < n; k++) members.push(field.packedBytes());
          columns[column]!.members = members;
        }
        break;
      case Field.GEOMETRY_TYPE:
        for (const column of ofType(ColumnType.GEOMETRY)) {
          if (field.pos >= field.end) break;
          columns[column]!.geometryType = field.packed();
        }
        break;
      case Field.SIMPLE_PRIMARY_KEY: {
        const key: number[] = [];
        while (field.pos < field.end) key.push(field.packed());
        map.primaryKey = key;
        break;
      }
      case Field.PRIMARY_KEY_WITH_PREFIX: {
        const key: number[] = [];
        while (field.pos < field.end) {
          key.push(field.packed());
          field.packed(); // prefix length: the key is still that column
        }
        map.primaryKey = key;
        break;
      }
      case Field.COLUMN_VISIBILITY:
        columns.forEach((column, i) => {
          const byte = field.buf[field.pos + (i >>> 3)];
          if (byte !== undefined && field.pos + (i >>> 3) < field.end) column.visible = (byte & (0x80 >>> (i & 7))) !== 0;
        });
        break;
      default:
        // a field of a newer server: its length lets us step over it
        break;
    }
  }
  return map;
}

/** Bytes per character of the character sets whose columns' lengths are given in bytes. */
const MAX_BYTES_PER_CHAR: Record<string, number> = {
  utf8mb4: 4,
  utf8mb3: 3,
  utf8: 3,
  utf16: 4,
  utf16le: 4,
  utf32: 4,
  ucs2: 2,
  gbk: 2,
  gb2312: 2,
  big5: 2,
  sjis: 2,
  cp932: 2,
  euckr: 2,
  ujis: 3,
  eucjpms: 3,
  gb18030: 4,
};

/**
 * information_schema's DATA_TYPE and COLUMN_TYPE for a column of a parsed table map (`charset`:
 * its character set name, null for binary; `labels`: an ENUM's or SET's members as text, when
 * read in their character set). CHAR/VARCHAR lengths are in characters, as the server states them.
 */
export function describeColumn(column: TableMapColumn, charset: string | null, labels?: readonly string[]): { dataType: string; columnType: string } {
  const md = column.metadata;
  const withUnsigned = (name: string) => ({ dataType: name.replace(/\(.*$/, ''), columnType: column.unsigned ? `${name} unsigned` : name });
  const fsp = (name: string) => ({ dataType: name, columnType: md.decimals ? `${name}(${md.decimals})` : name });
  switch (column.type) {
    case ColumnType.TINY:
      return withUnsigned('tinyint');
    case ColumnType.SHORT:
      return withUnsigned('smallint');
    case ColumnType.INT24:
      return withUnsigned('mediumint');
    case ColumnType.LONG:
      return withUnsigned('int');
    case ColumnType.LONGLONG:
      return withUnsigned('bigint');
    case ColumnType.FLOAT:
      return withUnsigned('float');
    case ColumnType.DOUBLE:
      return withUnsigned('double');
    case ColumnType.NEWDECIMAL:
      return withUnsigned(`decimal(${md.precision ?? 10},${md.decimals ?? 0})`);
    case ColumnType.YEAR:
      return { dataType: 'year', columnType: 'year' };
    case ColumnType.BIT:
      return { dataType: 'bit', columnType: `bit(${md.bits ?? 1})` };
    case ColumnType.DATE:
    case ColumnType.NEWDATE:
      return { dataType: 'date', columnType: 'date' };
    case ColumnType.TIMESTAMP:
    case ColumnType.TIMESTAMP2:
      return fsp('timestamp');
    case ColumnType.DATETIME:
    case ColumnType.DATETIME2:
      return fsp('datetime');
    case ColumnType.TIME:
    case ColumnType.TIME2:
      return fsp('time');
    case ColumnType.JSON:
      return { dataType: 'json', columnType: 'json' };
    case ColumnType.GEOMETRY: {
      const name = GEOMETRY_TYPE_NAMES[column.geometryType ?? 0] ?? 'geometry';
      return { dataType: name, columnType: name };
    }
    case ColumnType.ENUM:
    case ColumnType.SET: {
      const keyword = column.type === ColumnType.ENUM ? 'enum' : 'set';
      const members = (labels ?? (column.members ?? []).map((m) => m.toString('utf8'))).map((m) => `'${m.replace(/'/g, "''")}'`).join(',');
      return { dataType: keyword, columnType: `${keyword}(${members})` };
    }
    case ColumnType.STRING:
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
    case ColumnType.VARCHAR_COMPRESSED: {
      const fixed = column.type === ColumnType.STRING;
      const bytes = (md.max_length ?? 0) - (column.type === ColumnType.VARCHAR_COMPRESSED ? 1 : 0);
      if (charset === null) {
        const name = fixed ? 'binary' : 'varbinary';
        return { dataType: name, columnType: `${name}(${bytes})` };
      }
      const name = fixed ? 'char' : 'varchar';
      return { dataType: name, columnType: `${name}(${Math.floor(bytes / (MAX_BYTES_PER_CHAR[charset] ?? 1))})` };
    }
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.BLOB_COMPRESSED: {
      const size = ['tiny', '', 'medium', 'long'][(md.length_size ?? 2) - 1] ?? '';
      const name = `${size}${charset === null ? 'blob' : 'text'}`;
      return { dataType: name, columnType: name };
    }
    default:
      return { dataType: '', columnType: '' };
  }
}
