import { ConfigError, definePlugin, tableMatcher, type TableMatcher } from '../core/index.ts';

export interface RouteRule {
  /** `schema.table` globs this rule covers. */
  tables: string[];
  /** Sink names the matching events go to. */
  sinks: string[];
}

export interface RouteTablesOptions {
  /** First matching rule wins. */
  rules: RouteRule[];
  /** Where events of tables no rule matches go: every sink (default), none, or the named sinks. */
  otherwise?: 'all' | 'none' | string[];
}

/** Route events to named sinks by `schema.table` pattern. */
export function routeTables(options: RouteTablesOptions) {
  if (!Array.isArray(options.rules) || options.rules.length === 0) throw new ConfigError('routeTables: give at least one rule {tables, sinks}');
  const rules: Array<{ matches: TableMatcher; sinks: string[] }> = options.rules.map((rule) => ({ matches: tableMatcher(rule.tables), sinks: rule.sinks }));
  const otherwise = options.otherwise ?? 'all';
  const cache = new Map<string, string[] | undefined>();
  return definePlugin({
    name: 'route-tables',
    apply(hooks, context) {
      options.rules.forEach((rule, index) => context.requireSinks(rule.sinks, `rules[${index}].sinks`));
      if (Array.isArray(otherwise)) context.requireSinks(otherwise, 'otherwise');
      hooks.route.tap('route-tables', (all, event) => {
        const key = `${event.schema}.${event.table}`;
        let chosen = cache.get(key);
        if (chosen === undefined && !cache.has(key)) {
          chosen = rules.find((rule) => rule.matches(event.schema, event.table))?.sinks;
          cache.set(key, chosen);
        }
        if (chosen) return chosen;
        return otherwise === 'all' ? all : otherwise === 'none' ? [] : otherwise;
      });
    },
  });
}
