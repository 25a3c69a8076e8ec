/**
 * Elasticsearch field mappings derived from the columns' SQL types, so that every value Tunnel
 * emits for a column is accepted and searchable as what it is, instead of whatever ES's dynamic
 * mapping guessed from the first value it saw (a DOUBLE column whose first value was 0 became
 * `long` and refused -1.79e308; BIGINT UNSIGNED max overflowed `long`; JSON of varying shape broke
 * the object mapping). The choices, one per type family (docs/sinks.md states them):
 *
 * - integers: the smallest ES integer type that holds the column's whole range (TINYINT `byte`,
 *   TINYINT UNSIGNED `short`, ..., BIGINT `long`, BIGINT UNSIGNED `unsigned_long`); YEAR `short`;
 *   BIT(n) `long`, BIT(64) `unsigned_long`. Where the cluster has no `unsigned_long` (a distribution
 *   without the unsigned-long module), UNSIGNED_LONG_FALLBACK: `keyword` (exact) with a `double`
 *   sub-field `number` (ranges).
 * - DECIMAL(p,s): `double` when p <= 15, which is exact (a decimal of up to 15 significant digits
 *   survives a double both ways) and searchable by range; with more digits than a double holds,
 *   `keyword` (exact match on the decimal text Tunnel emits) with a `double` sub-field `number` for
 *   approximate ranges. `_source` keeps the exact text either way.
 * - FLOAT `float`, DOUBLE `double`.
 * - DATE, DATETIME(n), TIMESTAMP(n): `date` with the exact format Tunnel emits for that column
 *   ('yyyy-MM-dd', 'yyyy-MM-dd HH:mm:ss.SSSSSS' for n = 6, ISO instants with Z), and
 *   `ignore_malformed` so that MySQL's zero dates ('0000-00-00') are kept in the document (unindexed)
 *   rather than refused. TIME `keyword` (it is a duration, up to +-838:59:59).
 * - CHAR, VARCHAR, TEXT: `text` with a `keyword` sub-field (ignore_above 256, as ES's dynamic rule).
 * - BINARY, VARBINARY, BLOB, GEOMETRY (WKB), VECTOR: `binary` (the base64 Tunnel emits).
 * - ENUM, SET, UUID: `keyword`; INET4, INET6: `ip`.
 * - JSON: an object with `enabled: false` by default: any JSON value (object, array, scalar, of any
 *   shape) is stored and returned, never refused, but not indexed. `flattened` indexes every leaf as
 *   a keyword but refuses a value that is not an object, so it is the choice for columns that always
 *   hold objects: `typeMapping: { json: { type: 'flattened' } }`.
 */
import { BYTE_TYPES, type ColumnTypeInfo, type ColumnTypes } from '../../core/event/index.ts';
import { elasticsearchField } from './document.ts';

export type FieldMapping = Record<string, unknown>;

export interface TypeMappingOptions {
  /** The mapping of JSON columns; default `{ type: 'object', enabled: false }`. */
  json?: FieldMapping;
}

const DEFAULT_JSON: FieldMapping = { type: 'object', enabled: false };

/** What a 64-bit unsigned column maps to on a cluster that lacks `unsigned_long`. */
export const UNSIGNED_LONG_FALLBACK: FieldMapping = { type: 'keyword', fields: { number: { type: 'double' } } };

/** The numbers in COLUMN_TYPE's parentheses: `decimal(12,2)` -> [12, 2]; `datetime(6)` -> [6]. */
function typeArguments(columnType: string): number[] {
  const match = /^[a-z ]+\(([\d, ]+)\)/.exec(columnType);
  return match ? match[1]!.split(',').map((n) => Number(n.trim())) : [];
}

function dateFormat(fsp: number): string {
  return fsp > 0 ? `yyyy-MM-dd HH:mm:ss.${'S'.repeat(fsp)}` : 'yyyy-MM-dd HH:mm:ss';
}

/** The mapping of one column, or undefined when Tunnel has no opinion (ES's dynamic rule applies). */
export function fieldMapping(type: ColumnTypeInfo, options: TypeMappingOptions = {}): FieldMapping | undefined {
  const dataType = type.dataType.toLowerCase();
  const columnType = type.columnType.toLowerCase();
  const unsigned = /\bunsigned\b/.test(columnType);
  switch (dataType) {
    case 'tinyint':
      return { type: unsigned ? 'short' : 'byte' };
    case 'smallint':
      return { type: unsigned ? 'integer' : 'short' };
    case 'mediumint':
      return { type: 'integer' };
    case 'int':
    case 'integer':
      return { type: unsigned ? 'long' : 'integer' };
    case 'bigint':
      return { type: unsigned ? 'unsigned_long' : 'long' };
    case 'year':
      return { type: 'short' };
    case 'bit':
      return { type: (typeArguments(columnType)[0] ?? 1) < 64 ? 'long' : 'unsigned_long' };
    case 'decimal':
    case 'numeric':
    case 'fixed':
    case 'dec': {
      const [precision = 10] = typeArguments(columnType);
      if (precision <= 15) return { type: 'double' };
      return { type: 'keyword', fields: { number: { type: 'double' } } };
    }
    case 'float':
      return { type: 'float' };
    case 'double':
    case 'real':
    case 'double precision':
      return { type: 'double' };
    case 'date':
      return { type: 'date', format: 'yyyy-MM-dd', ignore_malformed: true };
    case 'datetime':
      return { type: 'date', format: dateFormat(typeArguments(columnType)[0] ?? 0), ignore_malformed: true };
    case 'timestamp':
      return { type: 'date', format: 'strict_date_optional_time', ignore_malformed: true };
    case 'time':
      return { type: 'keyword' };
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
      return { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } };
    case 'enum':
    case 'set':
    case 'uuid':
      return { type: 'keyword' };
    case 'inet4':
    case 'inet6':
      return { type: 'ip' };
    case 'json':
      return { ...(options.json ?? DEFAULT_JSON) };
    default:
      return BYTE_TYPES.has(dataType) ? { type: 'binary' } : undefined;
  }
}

/** `properties` for the columns Tunnel has an opinion on. */
export function columnMappings(types: ColumnTypes, options: TypeMappingOptions = {}): Record<string, FieldMapping> {
  const properties: Record<string, FieldMapping> = {};
  for (const [column, type] of Object.entries(types)) {
    const mapping = fieldMapping(type, options);
    if (mapping) properties[elasticsearchField(column)] = mapping;
  }
  return properties;
}
