import { describe, expect, it } from 'vitest';
import { binlogFileSequence, positionVersion, positionVersionText } from '../../core/event/index.ts';
import { PositionFormatError } from '../../core/errors/index.ts';
import { checkPosition } from '../../core/checkpoint/index.ts';
import { decodePosition, encodePosition } from '../../core/cluster/index.ts';

describe('position versions (generation × 2^53 + file sequence × 2^32 + offset)', () => {
  it('reads the file sequence from the numeric suffix', () => {
    expect(binlogFileSequence('mariadb-bin.000042')).toBe(42);
    expect(binlogFileSequence('binlog.1000000')).toBe(1_000_000);
    expect(binlogFileSequence('host-bin')).toBeUndefined();
  });

  it('gives the values of the layout, as bigint and as decimal text', () => {
    expect(positionVersion({ file: 'mariadb-bin.000001', offset: 4 })).toBe(4294967300n);
    expect(positionVersionText({ file: 'mariadb-bin.000001', offset: 4 })).toBe('4294967300');
    expect(positionVersionText({ file: 'binlog.000003', offset: 1234, gtid: '0-1-9' })).toBe('12884903122');
    expect(positionVersionText({ file: 'b.000001', offset: 4, generation: 1 })).toBe('9007203549708292');
    // the largest version: Long.MAX_VALUE, the largest Elasticsearch takes
    expect(positionVersionText({ file: 'b.2097151', offset: 4294967295, generation: 1023 })).toBe('9223372036854775807');
  });

  it('grows across a rotation, and a new generation orders after everything of the one before', () => {
    const late = positionVersion({ file: 'mysql-bin.000001', offset: 4_000_000_000 });
    expect(positionVersion({ file: 'mysql-bin.000002', offset: 4 })).toBeGreaterThan(late);
    const farAlong = positionVersion({ file: 'mysql-bin.2000000', offset: 4_294_967_295 });
    expect(positionVersion({ file: 'replica-bin.000001', offset: 4, generation: 1 })).toBeGreaterThan(farAlong);
  });

  it('refuses a position it cannot order: no suffix, a sequence, generation or offset out of range', () => {
    expect(() => positionVersion({ file: 'counter', offset: 4 })).toThrow(PositionFormatError);
    expect(() => positionVersion({ file: 'b.2097152', offset: 4 })).toThrow(/beyond the 2097151/);
    expect(() => positionVersion({ file: 'b.000001', offset: 4, generation: 1024 })).toThrow(/generation 1024/);
    expect(() => positionVersion({ file: 'b.000001', offset: 2 ** 32 })).toThrow(/offset 4294967296/);
  });

  it('keeps the generation in both position stores and checks it', () => {
    expect(checkPosition({ file: 'b.000001', offset: 4, generation: 2 }, 'p')).toEqual({ file: 'b.000001', offset: 4, generation: 2 });
    expect(checkPosition({ file: 'b.000001', offset: 4, generation: 0 }, 'p')).toEqual({ file: 'b.000001', offset: 4 });
    expect(() => checkPosition({ file: 'b.000001', offset: 4, generation: -1 }, 'p')).toThrow(/generation must be an integer from 0 to 1023/);
    const bytes = encodePosition({ position: { file: 'b.000001', offset: 4, gtid: '0-1-2', generation: 3 }, updatedAt: 5 }, 'n1', 7);
    expect(decodePosition(bytes, '/p').position).toEqual({ file: 'b.000001', offset: 4, gtid: '0-1-2', generation: 3 });
  });
});
