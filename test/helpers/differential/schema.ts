/**
 * Generated tables: every column type of the value rules (docs/values.md), in random order,
 * with random character sets, nullability and keys (single column, composite, none), all drawn from
 * one seed. A table is described by a TableSpec, from which its CREATE TABLE is written; the value
 * and statement generators and the expected-value reader work from the same spec.
 */
import { Random } from './random.ts';
import type { ServerFacts } from './server.ts';

export type Kind =
  | 'int'
  | 'decimal'
  | 'float'
  | 'double'
  | 'bit'
  | 'year'
  | 'date'
  | 'datetime'
  | 'timestamp'
  | 'time'
  | 'text'
  | 'binary'
  | 'enum'
  | 'set'
  | 'json'
  | 'geometry'
  | 'uuid'
  | 'inet4'
  | 'inet6';

export const GEOMETRY_TYPES = ['POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION', 'GEOMETRY'] as const;
export type GeometryType = (typeof GEOMETRY_TYPES)[number];

const INT_TYPES = [
  ['TINYINT', 8],
  ['SMALLINT', 16],
  ['MEDIUMINT', 24],
  ['INT', 32],
  ['BIGINT', 64],
] as const;

const TEXT_MAX_BYTES: Record<string, number> = { TINYTEXT: 255, TEXT: 65535, MEDIUMTEXT: 16777215, LONGTEXT: 4294967295 };
const BLOB_MAX_BYTES: Record<string, number> = { TINYBLOB: 255, BLOB: 65535, MEDIUMBLOB: 16777215, LONGBLOB: 4294967295 };

export interface Column {
  name: string;
  kind: Kind;
  /** The column definition as written in CREATE TABLE (type, character set, NULL, default). */
  definition: string;
  notNull: boolean;
  /** int: width in bits; bit: n. */
  bits?: number;
  unsigned?: boolean;
  precision?: number;
  scale?: number;
  /** datetime/timestamp/time: fractional digits. */
  fsp?: number;
  /** text: CHAR, VARCHAR, TINYTEXT...; binary: BINARY, VARBINARY, TINYBLOB... */
  base?: string;
  /** CHAR/VARCHAR: characters; BINARY/VARBINARY: bytes. */
  length?: number;
  /** TEXT/BLOB family: the most bytes a value may have. */
  maxBytes?: number;
  /** text, enum, set: the character set values are stored in. */
  charset?: string;
  labels?: string[];
  geometry?: GeometryType;
  /** A TIMESTAMP the server sets on every update (DEFAULT/ON UPDATE CURRENT_TIMESTAMP). */
  autoUpdate?: boolean;
  /** Part of the primary key. */
  key?: boolean;
  /** Tables without a key: the column holding each row's unique number (never updated). */
  serial?: boolean;
  /** A generated column (VIRTUAL or STORED): the server computes it, statements never write it. */
  generated?: boolean;
}

export interface TableSpec {
  seed: number;
  schema: string;
  name: string;
  columns: Column[];
  /** Primary key columns in key order; empty for a table without a key. */
  key: string[];
  keyShape: 'single' | 'composite' | 'none';
  /** The table's default character set (columns without their own get it). */
  charset: string;
  /** 'strict' keeps the server's default sql_mode; 'permissive' is '' (zero dates, clipping, invalid ENUM). */
  sqlMode: 'strict' | 'permissive';
  /** The writing session's time zone, as an offset. */
  timeZone: string;
  flavor: ServerFacts['flavor'];
  /**
   * How its first rows reach the sinks: 'stream' (created while Tunnel runs, every change from the
   * binlog) or 'snapshot' (created and written before Tunnel starts, read by its initial snapshot,
   * then changed more while it streams).
   */
  path: 'stream' | 'snapshot';
}

export interface TableOptions {
  /** Most columns besides the key and serial ones. */
  maxColumns?: number;
  /** Key shapes to draw from (default all three). */
  keyShapes?: ReadonlyArray<TableSpec['keyShape']>;
  /** Column kinds never drawn (to look past a known bug). */
  excludeKinds?: readonly Kind[];
  /** The share of tables that take the snapshot path (default 0.25). */
  snapshotShare?: number;
  /** Character sets text columns may have (default: every one the server has); 'binary' allows CHARACTER SET binary. */
  charsets?: readonly string[];
}

const PRIMARY_TEXT_CHARSETS = ['utf8mb4', 'latin1', 'gbk', 'big5', 'sjis', 'utf16', 'utf32'];

/** The character sets a table's text columns draw from. */
interface CharsetChoice {
  all: string[];
  primary: string[];
  binary: boolean;
}

const ODD_COLUMN_NAMES = [
  'order',
  'key',
  'group',
  'Straße',
  '名前',
  'with space',
  'dot.ted',
  'MiXeD_Case',
  'a-b',
  '$dollar',
  '_id',
  'ü'.repeat(64),
  '1starts_with_digit',
];

const KEY_KINDS: Kind[] = ['int', 'int', 'int', 'decimal', 'text', 'text', 'binary', 'date', 'datetime', 'time', 'year', 'enum'];

/** The table of seed `seed`: same seed and server flavor, same table. */
export function generateTable(seed: number, facts: ServerFacts, schema: string, name: string, options: TableOptions = {}): TableSpec {
  const rnd = new Random(seed);
  const maxColumns = options.maxColumns ?? 16;
  const allowed = (c: string) => !options.charsets || options.charsets.includes(c);
  const all = facts.charsets.filter((c) => c !== 'binary' && allowed(c));
  if (all.length === 0) throw new Error(`none of the character sets ${options.charsets?.join(', ')} is on the server`);
  const primary = all.filter((c) => PRIMARY_TEXT_CHARSETS.includes(c));
  const charsets: CharsetChoice = { all, primary: primary.length > 0 ? primary : all, binary: allowed('binary') };
  const charset = rnd.chance(0.6) && all.includes('utf8mb4') ? 'utf8mb4' : rnd.pick(charsets.primary);
  const spec: TableSpec = {
    seed,
    schema,
    name,
    columns: [],
    key: [],
    keyShape: rnd.weighted(
      (
        [
          ['single', 4],
          ['composite', 3],
          ['none', 3],
        ] as const
      ).filter(([shape]) => !options.keyShapes || options.keyShapes.includes(shape)),
    ),
    charset,
    sqlMode: rnd.chance(0.5) ? 'strict' : 'permissive',
    timeZone: rnd.pick(['+00:00', '+00:00', '+05:30', '-08:00', '+09:00', '-03:30']),
    flavor: facts.flavor,
    path: 'stream',
  };
  const kinds: Kind[] = [
    'int',
    'decimal',
    'float',
    'double',
    'bit',
    'year',
    'date',
    'datetime',
    'timestamp',
    'time',
    'text',
    'text',
    'binary',
    'enum',
    'set',
    'json',
    'geometry',
  ];
  if (facts.flavor === 'mariadb') kinds.push('uuid', 'inet4', 'inet6');
  const kindsOf = (list: Kind[]) => list.filter((k) => !options.excludeKinds?.includes(k));

  const columns: Column[] = [];
  const count = rnd.int(1, maxColumns);
  for (let i = 0; i < count; i++) columns.push(drawColumn(rnd, rnd.pick(kindsOf(kinds)), facts, charsets, spec, false));
  if (spec.keyShape !== 'none') {
    const keyCount = spec.keyShape === 'single' ? 1 : rnd.int(2, 3);
    for (let i = 0; i < keyCount; i++) columns.push(drawColumn(rnd, rnd.pick(kindsOf(KEY_KINDS)), facts, charsets, spec, true));
  } else {
    // A unique row number keeps rows of a keyless table distinct, so that "two identical rows are
    // one document" (docs/values.md) never applies and the sink can equal the table row for row.
    columns.push({ name: '', kind: 'int', definition: 'INT UNSIGNED NOT NULL', notNull: true, bits: 32, unsigned: true, serial: true });
  }
  spec.columns = rnd.shuffle(columns);
  spec.columns.forEach((c, i) => (c.name = `c${i}_${c.serial ? 'serial' : c.kind}`));
  // Some tables have column names a user may have: reserved words, non-ASCII, spaces, dots, an
  // Elasticsearch metadata field name, the longest name allowed.
  if (rnd.chance(0.3)) {
    const odd = rnd.shuffle(ODD_COLUMN_NAMES);
    spec.columns.forEach((c) => {
      if (rnd.chance(0.25) && odd.length > 0) c.name = odd.pop()!;
    });
  }
  // Some tables have a generated column (VIRTUAL or STORED), computed from an integer column.
  const source = spec.columns.find((c) => c.kind === 'int' && !c.key && !c.serial);
  if (source && rnd.chance(0.15)) {
    const storage = rnd.pick(['VIRTUAL', 'STORED']);
    const generated: Column = {
      name: `c${spec.columns.length}_generated`,
      kind: 'int',
      definition: `BIGINT AS (\`${source.name}\` DIV 2) ${storage}`,
      notNull: false,
      bits: 64,
      unsigned: false,
      generated: true,
    };
    spec.columns.splice(rnd.int(0, spec.columns.length), 0, generated);
  }
  spec.key = rnd.shuffle(spec.columns.filter((c) => c.key)).map((c) => c.name);
  // Drawn last, so that the columns of a seed do not depend on it.
  spec.path = rnd.chance(options.snapshotShare ?? 0.25) ? 'snapshot' : 'stream';
  return spec;
}

function drawColumn(rnd: Random, kind: Kind, facts: ServerFacts, charsets: CharsetChoice, table: TableSpec, key: boolean): Column {
  const notNull = key || rnd.chance(0.2);
  const nullText = notNull ? ' NOT NULL' : ' NULL';
  const col = (fields: Omit<Column, 'name' | 'notNull' | 'definition' | 'kind'>, type: string): Column => ({
    name: '',
    kind,
    notNull,
    key,
    ...fields,
    definition: type + nullText,
  });
  switch (kind) {
    case 'int': {
      const [type, bits] = rnd.pick(INT_TYPES);
      const unsigned = rnd.chance(0.5);
      return col({ bits, unsigned }, `${type}${unsigned ? ' UNSIGNED' : ''}`);
    }
    case 'decimal': {
      const [precision, scale] = rnd.chance(0.5)
        ? rnd.pick([
            [65, 30],
            [10, 0],
            [5, 2],
            [20, 6],
            [1, 1],
            [1, 0],
            [38, 10],
            [9, 9],
            [18, 4],
          ] as const)
        : (() => {
            const p = rnd.int(1, 65);
            return [p, rnd.int(0, Math.min(p, 30))] as const;
          })();
      const unsigned = !key && rnd.chance(0.1);
      return col({ precision, scale, unsigned }, `DECIMAL(${precision},${scale})${unsigned ? ' UNSIGNED' : ''}`);
    }
    case 'float':
      return col({}, 'FLOAT');
    case 'double':
      return col({}, rnd.pick(['DOUBLE', 'DOUBLE', 'REAL', 'DOUBLE PRECISION']));
    case 'bit': {
      const bits = rnd.chance(0.5) ? rnd.pick([1, 8, 9, 16, 17, 63, 64]) : rnd.int(1, 64);
      return col({ bits }, `BIT(${bits})`);
    }
    case 'year':
      return col({}, 'YEAR');
    case 'date':
      return col({}, 'DATE');
    case 'datetime': {
      const fsp = rnd.int(0, 6);
      return col({ fsp }, `DATETIME(${fsp})`);
    }
    case 'time': {
      const fsp = rnd.int(0, 6);
      return col({ fsp }, `TIME(${fsp})`);
    }
    case 'timestamp': {
      const fsp = rnd.int(0, 6);
      if (!key && rnd.chance(0.15)) {
        const now = `CURRENT_TIMESTAMP(${fsp})`;
        return {
          ...col({ fsp, autoUpdate: true }, `TIMESTAMP(${fsp})`),
          definition: `TIMESTAMP(${fsp}) NOT NULL DEFAULT ${now} ON UPDATE ${now}`,
          notNull: true,
        };
      }
      return col({ fsp }, `TIMESTAMP(${fsp})${notNull ? " DEFAULT '2000-01-01 00:00:00'" : ' DEFAULT NULL'}`);
    }
    case 'text': {
      const inherit = !key && rnd.chance(0.25);
      const charset = inherit ? table.charset : rnd.chance(0.75) ? rnd.pick(charsets.primary) : rnd.pick(charsets.all);
      const charsetClause = inherit ? '' : ` CHARACTER SET ${charset}`;
      const binaryCharset = !key && !inherit && rnd.chance(0.1) && charsets.binary;
      const base = key
        ? rnd.pick(['CHAR', 'VARCHAR'] as const)
        : rnd.weighted([
            ['CHAR', 2],
            ['VARCHAR', 4],
            ['TINYTEXT', 1],
            ['TEXT', 2],
            ['MEDIUMTEXT', 1],
            ['LONGTEXT', 1],
          ] as const);
      const length = base === 'CHAR' ? rnd.int(key ? 1 : 0, key ? 40 : 255) : base === 'VARCHAR' ? rnd.int(1, key ? 60 : 400) : undefined;
      const typeText = length === undefined ? base : `${base}(${length})`;
      if (binaryCharset) {
        // CHAR(n) CHARACTER SET binary is BINARY(n), TEXT CHARACTER SET binary is BLOB: binary values.
        const binBase = ({ CHAR: 'BINARY', VARCHAR: 'VARBINARY', TINYTEXT: 'TINYBLOB', TEXT: 'BLOB', MEDIUMTEXT: 'MEDIUMBLOB', LONGTEXT: 'LONGBLOB' } as const)[
          base
        ];
        return { ...col({ base: binBase, length, maxBytes: BLOB_MAX_BYTES[binBase] }, `${typeText} CHARACTER SET binary`), kind: 'binary' };
      }
      return col({ base, length, charset, maxBytes: TEXT_MAX_BYTES[base] }, `${typeText}${charsetClause}`);
    }
    case 'binary': {
      const base = key
        ? rnd.pick(['BINARY', 'VARBINARY'] as const)
        : rnd.weighted([
            ['BINARY', 2],
            ['VARBINARY', 3],
            ['TINYBLOB', 1],
            ['BLOB', 2],
            ['MEDIUMBLOB', 1],
            ['LONGBLOB', 1],
          ] as const);
      const length = base === 'BINARY' ? rnd.int(key ? 1 : 0, key ? 32 : 255) : base === 'VARBINARY' ? rnd.int(1, key ? 64 : 500) : undefined;
      return col({ base, length, maxBytes: BLOB_MAX_BYTES[base] }, length === undefined ? base : `${base}(${length})`);
    }
    case 'enum':
    case 'set': {
      const charset = rnd.chance(0.5) ? table.charset : rnd.pick(charsets.all);
      const pool = facts.pools.get(charset)!;
      const max = kind === 'set' ? 64 : 300;
      const count = rnd.chance(0.1) ? (kind === 'set' ? rnd.int(40, 64) : rnd.int(256, max)) : rnd.int(1, 8);
      const labels: string[] = [];
      for (let i = 0; i < count; i++) labels.push(label(rnd, pool.chars, i, kind === 'set'));
      const list = labels.map((l) => `'${l.replaceAll("'", "''")}'`).join(',');
      return col({ labels, charset }, `${kind.toUpperCase()}(${list}) CHARACTER SET ${charset}`);
    }
    case 'json':
      return col({}, 'JSON');
    case 'geometry': {
      const geometry = rnd.pick(GEOMETRY_TYPES);
      return col({ geometry }, geometry);
    }
    case 'uuid':
      return col({}, 'UUID');
    case 'inet4':
      return col({}, 'INET4');
    case 'inet6':
      return col({}, 'INET6');
  }
}

/** A distinct ENUM/SET label: a letter and its number (distinct under any collation), then a few characters of the set. */
function label(rnd: Random, chars: string[], index: number, forSet: boolean): string {
  const printable = chars.filter((c) => [...c].every((ch) => ch.codePointAt(0)! > 0x20 && ch.codePointAt(0) !== 0x7f) && !/[\s,\\\u00a0\u00ad]/u.test(c));
  let text = `v${index}_`;
  const extra = rnd.int(0, 3);
  for (let i = 0; i < extra; i++) text += rnd.pick(printable);
  if (!forSet && rnd.chance(0.1)) text += ',x';
  return text;
}

/** CREATE TABLE for `spec`. */
export function createTableSql(spec: TableSpec): string {
  const defs = spec.columns.map((c) => `  \`${c.name}\` ${c.definition}`);
  if (spec.key.length > 0) defs.push(`  PRIMARY KEY (${spec.key.map((k) => `\`${k}\``).join(', ')})`);
  return `CREATE TABLE \`${spec.schema}\`.\`${spec.name}\` (\n${defs.join(',\n')}\n) ENGINE=InnoDB DEFAULT CHARSET=${spec.charset}`;
}

/** Drops the widest variable-length column (after the server refused the row size). */
export function dropWidestColumn(spec: TableSpec): TableSpec {
  const candidates = spec.columns.filter(
    (c) => !c.key && !c.serial && (c.base === 'CHAR' || c.base === 'VARCHAR' || c.base === 'BINARY' || c.base === 'VARBINARY'),
  );
  if (candidates.length === 0) throw new Error(`table ${spec.name}: row too large and no column to drop`);
  const width = (c: Column) => (c.length ?? 0) * (c.charset ? 4 : 1);
  const widest = candidates.reduce((a, b) => (width(b) > width(a) ? b : a));
  return { ...spec, columns: spec.columns.filter((c) => c !== widest) };
}
