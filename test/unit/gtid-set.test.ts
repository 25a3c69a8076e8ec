import { describe, expect, it } from 'vitest';
import { gtidFlavorOf, parseGtidState } from '../../core/source/index.ts';
import { PositionFormatError } from '../../core/errors/index.ts';
import { comparePositions, samePosition } from '../../core/event/index.ts';

const A = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const B = '2c256447-3f0d-431b-9a25-bddf1f1f6ef6';

describe('MariaDB GTID positions', () => {
  it('keep the last GTID of each domain, sorted by domain, as gtid_slave_pos prints them', () => {
    const state = parseGtidState('mariadb', '1-2-5, 0-1-100');
    expect(state.toString()).toBe('0-1-100,1-2-5');
    state.add('0-1-101');
    state.add('2-7-1');
    expect(state.toString()).toBe('0-1-101,1-2-5,2-7-1');
    // a promoted server continues the domain's sequence under its own server id
    state.add('0-3-102');
    expect(state.toString()).toBe('0-3-102,1-2-5,2-7-1');
  });

  it('keeps sequence numbers beyond 2^53 exact', () => {
    const state = parseGtidState('mariadb', '0-1-18446744073709551614');
    state.add('0-1-18446744073709551615');
    expect(state.toString()).toBe('0-1-18446744073709551615');
  });

  it('names the domains a server lacks or has an older transaction of', () => {
    const read = parseGtidState('mariadb', '0-1-100,1-2-5,3-1-9');
    expect(read.missingFrom(parseGtidState('mariadb', '0-1-100,1-2-5,3-1-9'))).toBeUndefined();
    expect(read.missingFrom(parseGtidState('mariadb', '0-2-140,1-2-9,3-1-9'))).toBeUndefined();
    expect(read.missingFrom(parseGtidState('mariadb', '0-1-98,1-2-5'))).toBe('0-1-100,3-1-9');
  });

  it('refuses malformed text and two GTIDs of one domain', () => {
    expect(() => parseGtidState('mariadb', '0-1')).toThrow(PositionFormatError);
    expect(() => parseGtidState('mariadb', '0-1-5,0-2-6')).toThrow(/one GTID per replication domain/);
    expect(parseGtidState('mariadb', '').toString()).toBe('');
  });
});

describe('MySQL GTID sets', () => {
  it('add transactions into merged intervals, sources sorted, as gtid_executed prints them', () => {
    const set = parseGtidState('mysql', `${A}:1-5:7,\n${B}:1-3`);
    expect(set.toString()).toBe(`${B}:1-3,${A}:1-5:7`);
    set.add(`${A}:6`);
    expect(set.toString()).toBe(`${B}:1-3,${A}:1-7`);
    set.add(`${A}:9`);
    set.add(`${B}:4`);
    expect(set.toString()).toBe(`${B}:1-4,${A}:1-7:9`);
    set.add(`${A.toUpperCase()}:8`);
    expect(set.toString()).toBe(`${B}:1-4,${A}:1-9`);
  });

  it('keep tagged GTIDs (MySQL 8.3+) after the untagged intervals of their uuid', () => {
    const set = parseGtidState('mysql', `${A}:1-3:tag_b:1:tag_a:2-4`);
    expect(set.toString()).toBe(`${A}:1-3:tag_a:2-4:tag_b:1`);
    set.add(`${A}:tag_a:5`);
    expect(set.toString()).toBe(`${A}:1-3:tag_a:2-5:tag_b:1`);
  });

  it('name the transactions a server lacks: the difference of the sets', () => {
    const read = parseGtidState('mysql', `${A}:1-10,${B}:1-3`);
    expect(read.missingFrom(parseGtidState('mysql', `${A}:1-12,${B}:1-3`))).toBeUndefined();
    expect(read.missingFrom(parseGtidState('mysql', `${A}:1-4:6-8`))).toBe(`${B}:1-3,${A}:5:9-10`);
    expect(parseGtidState('mysql', `${A}:1-20`).missingFrom(parseGtidState('mysql', `${A}:1-20`))).toBeUndefined();
  });

  it('refuse malformed text', () => {
    expect(() => parseGtidState('mysql', `${A}`)).toThrow(PositionFormatError);
    expect(() => parseGtidState('mysql', `${A}:5-2`)).toThrow(PositionFormatError);
    expect(() => parseGtidState('mysql', 'not-a-uuid:1')).toThrow(/MySQL GTID set/);
  });

  it('the flavor shows in the text', () => {
    expect(gtidFlavorOf(`${A}:1`)).toBe('mysql');
    expect(gtidFlavorOf('0-1-5')).toBe('mariadb');
    expect(gtidFlavorOf(' ')).toBeUndefined();
  });
});

describe('positions across a move to another server', () => {
  it('order by generation first, then file and offset', () => {
    const before = { file: 'mariadb-bin.000012', offset: 90_000 };
    const after = { file: 'replica-bin.000002', offset: 400, generation: 1 };
    expect(comparePositions(before, after)).toBeLessThan(0);
    expect(comparePositions(after, { file: 'replica-bin.000002', offset: 500, generation: 1 })).toBeLessThan(0);
    expect(comparePositions({ file: 'a.000001', offset: 4, generation: 2 }, after)).toBeGreaterThan(0);
  });

  it('the same file and offset in another generation is another place', () => {
    expect(samePosition({ file: 'b.000001', offset: 4 }, { file: 'b.000001', offset: 4, generation: 0 })).toBe(true);
    expect(samePosition({ file: 'b.000001', offset: 4 }, { file: 'b.000001', offset: 4, generation: 1 })).toBe(false);
  });
});
