import { describe, expect, it } from 'vitest';
import { compileTemplate, renderTemplate, templatePlaceholders } from '../../core/event/index.ts';

describe('core/event template', () => {
  it('renders placeholders and keeps literal text', () => {
    expect(renderTemplate('{schema}_{table}', { schema: 'Shop', table: 'orders' })).toBe('Shop_orders');
    expect(renderTemplate('k:{id}:{id}', { id: 7 })).toBe('k:7:7');
    expect(renderTemplate('fixed-name', {})).toBe('fixed-name');
  });

  it('lists placeholders and refuses unknown ones when told which are allowed', () => {
    expect(templatePlaceholders('{a}-{b}-{a}')).toEqual(['a', 'b']);
    expect(() => compileTemplate('{schema}:{tabel}', ['schema', 'table'])).toThrow(/unknown placeholder \{tabel\}/);
    expect(() => compileTemplate('{x}').render({})).toThrow(/no value for placeholder \{x\}/);
  });
});
