import { describe, expect, it } from 'vitest';
import { formatPosition, samePosition } from '../../core/event/index.ts';
import { parsePosition } from '../../core/checkpoint/index.ts';
import { PluginError } from '../../core/errors/index.ts';

describe('one position format', () => {
  it('writes file:offset[@gtid], the form reset-position --to reads back', () => {
    const withGtid = { file: 'mariadb-bin.000042', offset: 1234, gtid: '0-1-99' };
    expect(formatPosition(withGtid)).toBe('mariadb-bin.000042:1234@0-1-99');
    expect(parsePosition(formatPosition(withGtid))).toEqual(withGtid);
    expect(formatPosition({ file: 'mysql-bin.000001', offset: 4 })).toBe('mysql-bin.000001:4');
  });

  it('is the form errors name a position in', () => {
    const error = new PluginError('p', 'transform', 't', new Error('boom'), { position: { file: 'mariadb-bin.000002', offset: 77, gtid: '0-1-5' } });
    expect(error.message).toBe('plugin "p" failed in hook "transform" of task "t" at mariadb-bin.000002:77@0-1-5: boom');
  });

  it('compares places by file and offset', () => {
    expect(samePosition({ file: 'b.1', offset: 4, gtid: '0-1-1' }, { file: 'b.1', offset: 4 })).toBe(true);
    expect(samePosition({ file: 'b.1', offset: 4 }, { file: 'b.2', offset: 4 })).toBe(false);
    expect(samePosition({ file: 'b.1', offset: 4 }, undefined)).toBe(false);
  });
});
