/**
 * Families of SQL column types (information_schema DATA_TYPE names) that more than one part of
 * Tunnel treats alike: the snapshot's value reading and the Elasticsearch mappings.
 */

/** Types whose values are bytes (Tunnel emits them base64): binary strings, BLOBs, spatial types, VECTOR. */
export const BYTE_TYPES: ReadonlySet<string> = new Set([
  'binary',
  'varbinary',
  'tinyblob',
  'blob',
  'mediumblob',
  'longblob',
  'geometry',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
  'geometrycollection',
  'geomcollection', // MySQL 8's information_schema name for GEOMETRYCOLLECTION
  'vector',
]);
