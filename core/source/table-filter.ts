/**
 * Include/exclude of tables by `schema.table` glob patterns.
 *
 * A pattern is matched against the whole `schema.table` string, case-sensitively (MySQL/MariaDB table
 * names are case-sensitive on Linux). `*` matches any run of characters (the dot included, so `*`
 * alone matches every table); every other character, the dot too, matches itself. An empty include
 * list means every table; exclude wins over include.
 */
export type TableFilter = (schema: string, table: string) => boolean;

/** The regular expression equivalent of one glob pattern (exported for tests). */
export function globToRegExp(pattern: string): RegExp {
  let source = '^';
  for (const char of pattern) {
    source += char === '*' ? '.*' : char.replace(/[\\^$.|?+()[\]{}/-]/g, '\\$&');
  }
  return new RegExp(`${source}$`, 's');
}

/** A predicate that says whether rows of `schema.table` are read (true) or skipped undecoded (false). */
export function compileTableFilter(include: readonly string[], exclude: readonly string[]): TableFilter {
  const includes = include.map(globToRegExp);
  const excludes = exclude.map(globToRegExp);
  if (includes.length === 0 && excludes.length === 0) return () => true;
  // One decision per table, cached: table maps repeat for every transaction that touches a table.
  const cache = new Map<string, boolean>();
  return (schema, table) => {
    const name = `${schema}.${table}`;
    let decision = cache.get(name);
    if (decision === undefined) {
      decision = (includes.length === 0 || includes.some((re) => re.test(name))) && !excludes.some((re) => re.test(name));
      if (cache.size > 100_000) cache.clear();
      cache.set(name, decision);
    }
    return decision;
  };
}
