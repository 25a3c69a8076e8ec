import { describe, expect, it } from 'vitest';
import { tableMatcher as compileTableFilter, compileTablePattern as globToRegExp } from '../../core/event/index.ts';

describe('table filter (schema.table globs)', () => {
  it('matches every table when both lists are empty', () => {
    const filter = compileTableFilter([], []);
    expect(filter('shop', 'orders')).toBe(true);
    expect(filter('mysql', 'user')).toBe(true);
  });

  it('matches * as any run of characters, the dot included', () => {
    expect(globToRegExp('shop.*').test('shop.orders')).toBe(true);
    expect(globToRegExp('shop.*').test('shopping.orders')).toBe(false);
    expect(globToRegExp('*.orders').test('eu_shop.orders')).toBe(true);
    expect(globToRegExp('*.orders').test('eu_shop.orders_archive')).toBe(false);
    expect(globToRegExp('shop.order_*').test('shop.order_2024')).toBe(true);
    expect(globToRegExp('*').test('a.b')).toBe(true);
    expect(globToRegExp('shop*').test('shop.x')).toBe(true);
  });

  it('treats the dot and regex characters literally', () => {
    expect(globToRegExp('shop.orders').test('shopXorders')).toBe(false);
    expect(globToRegExp('a+b.(c)').test('a+b.(c)')).toBe(true);
    expect(globToRegExp('a+b.(c)').test('aab.c')).toBe(false);
    expect(globToRegExp('s.t?').test('s.t')).toBe(false);
    expect(globToRegExp('s.t?').test('s.tx')).toBe(true);
    expect(globToRegExp('shop').test('shop.orders')).toBe(true);
    expect(globToRegExp('shop').test('shopping.orders')).toBe(false);
    expect(globToRegExp('s.[a]').test('s.a')).toBe(false);
  });

  it('is case-sensitive like table names on Linux', () => {
    expect(compileTableFilter(['shop.Orders'], [])('shop', 'orders')).toBe(false);
    expect(compileTableFilter(['shop.Orders'], [])('shop', 'Orders')).toBe(true);
  });

  it('reads only included tables, and exclude wins over include', () => {
    const filter = compileTableFilter(['shop.*', 'crm.customers'], ['shop.*_log', 'shop.secret']);
    expect(filter('shop', 'orders')).toBe(true);
    expect(filter('shop', 'audit_log')).toBe(false);
    expect(filter('shop', 'secret')).toBe(false);
    expect(filter('crm', 'customers')).toBe(true);
    expect(filter('crm', 'leads')).toBe(false);
    expect(filter('other', 'orders')).toBe(false);
  });

  it('with only excludes, reads everything else', () => {
    const filter = compileTableFilter([], ['mysql.*', '*.tmp_*']);
    expect(filter('mysql', 'user')).toBe(false);
    expect(filter('shop', 'tmp_import')).toBe(false);
    expect(filter('shop', 'orders')).toBe(true);
  });

  it('gives the same answer from its cache', () => {
    const filter = compileTableFilter(['a.*'], []);
    for (let i = 0; i < 3; i++) {
      expect(filter('a', 'x')).toBe(true);
      expect(filter('b', 'x')).toBe(false);
    }
  });
});
