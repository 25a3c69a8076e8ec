// docs/values.md's table of column values is the one valueRulesTable() renders from
// core/event/value-rules.ts (compared cell by cell, so prettier's column padding does not matter).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VALUE_RULES, valueRulesTable } from '../../core/event/index.ts';

const cells = (table: string) =>
  table
    .trim()
    .split('\n')
    .filter((line) => !/^\|[\s-|]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );

describe('the column-value rules', () => {
  it('docs/values.md shows the table valueRulesTable() renders', () => {
    const page = readFileSync(resolve(import.meta.dirname, '../../docs/values.md'), 'utf8');
    const match = /<!-- value-rules:start[^>]*-->([\s\S]*?)<!-- value-rules:end -->/.exec(page);
    expect(match, 'docs/values.md has the value-rules markers').not.toBeNull();
    expect(cells(match![1]!), 'regenerate the table between the markers from valueRulesTable()').toEqual(cells(valueRulesTable()));
  });

  it('every rule has a type, a form and at least one example', () => {
    for (const rule of VALUE_RULES) {
      expect(rule.types.length).toBeGreaterThan(0);
      expect(rule.form.length).toBeGreaterThan(0);
      expect(rule.examples.length).toBeGreaterThan(0);
    }
  });
});
