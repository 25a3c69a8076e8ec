import { describe, expect, it } from 'vitest';
import { columnMappings, fieldMapping } from '../../sinks/elasticsearch/mapping.ts';

const type = (dataType: string, columnType = dataType) => ({ dataType, columnType });

describe('Elasticsearch mappings from column types', () => {
  it.each([
    [type('tinyint'), { type: 'byte' }],
    [type('tinyint', 'tinyint unsigned'), { type: 'short' }],
    [type('smallint'), { type: 'short' }],
    [type('smallint', 'smallint(5) unsigned'), { type: 'integer' }],
    [type('mediumint', 'mediumint unsigned'), { type: 'integer' }],
    [type('int'), { type: 'integer' }],
    [type('int', 'int(10) unsigned'), { type: 'long' }],
    [type('bigint'), { type: 'long' }],
    [type('bigint', 'bigint(20) unsigned'), { type: 'unsigned_long' }],
    [type('year', 'year(4)'), { type: 'short' }],
    [type('bit', 'bit(64)'), { type: 'unsigned_long' }],
    [type('bit', 'bit(10)'), { type: 'long' }],
    [type('decimal', 'decimal(12,2)'), { type: 'double' }],
    [type('decimal', 'decimal(15,0) unsigned'), { type: 'double' }],
    [type('decimal', 'decimal(65,30)'), { type: 'keyword', fields: { number: { type: 'double' } } }],
    [type('float'), { type: 'float' }],
    [type('double'), { type: 'double' }],
    [type('date'), { type: 'date', format: 'yyyy-MM-dd', ignore_malformed: true }],
    [type('datetime'), { type: 'date', format: 'yyyy-MM-dd HH:mm:ss', ignore_malformed: true }],
    [type('datetime', 'datetime(6)'), { type: 'date', format: 'yyyy-MM-dd HH:mm:ss.SSSSSS', ignore_malformed: true }],
    [type('timestamp', 'timestamp(3)'), { type: 'date', format: 'strict_date_optional_time', ignore_malformed: true }],
    [type('time', 'time(2)'), { type: 'keyword' }],
    [type('varchar', 'varchar(64)'), { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } }],
    [type('longtext'), { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } }],
    [type('varbinary', 'varbinary(16)'), { type: 'binary' }],
    [type('mediumblob'), { type: 'binary' }],
    [type('point'), { type: 'binary' }],
    [type('geometry'), { type: 'binary' }],
    [type('enum', "enum('a','b')"), { type: 'keyword' }],
    [type('set', "set('x','y')"), { type: 'keyword' }],
    [type('uuid'), { type: 'keyword' }],
    [type('inet4'), { type: 'ip' }],
    [type('inet6'), { type: 'ip' }],
    [type('json'), { type: 'object', enabled: false }],
  ])('%o -> %o', (column, expected) => {
    expect(fieldMapping(column)).toEqual(expected);
  });

  it('a configured JSON mapping replaces the default; unknown types are left to ES', () => {
    expect(fieldMapping(type('json'), { json: { type: 'flattened' } })).toEqual({ type: 'flattened' });
    expect(fieldMapping(type('sometype'))).toBeUndefined();
    expect(columnMappings({ a: type('int'), b: type('sometype'), c: type('json') }, { json: { type: 'flattened' } })).toEqual({
      a: { type: 'integer' },
      c: { type: 'flattened' },
    });
  });
});
