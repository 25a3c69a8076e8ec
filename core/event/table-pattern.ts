/**
 * `schema.table` glob patterns, one rule for the source, the snapshot and the plugins alike.
 * A pattern matches the whole `schema.table`, case-sensitively (table names are case-sensitive on
 * Linux): `*` matches any run of characters (the dot too, so `*` alone matches every table), `?`
 * one character, everything else itself. A pattern without a dot names a whole schema (`shop` =
 * `shop.*`). An empty include list includes every table; exclude wins over include.
 */
export type TableMatcher = (schema: string, table: string) => boolean;

export function compileTablePattern(pattern: string): RegExp {
  const full = pattern.includes('.') || pattern.includes('*') ? pattern : `${pattern}.*`;
  let source = '^';
  for (const char of full) source += char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}/-]/g, '\\$&');
  return new RegExp(`${source}$`, 's');
}

export function tableMatcher(include: readonly string[] = [], exclude: readonly string[] = []): TableMatcher {
  const includes = include.map(compileTablePattern);
  const excludes = exclude.map(compileTablePattern);
  if (includes.length === 0 && excludes.length === 0) return () => true;
  // One decision per table, cached: table maps repeat for every transaction that touches a table.
  const cache = new Map<string, boolean>();
  return (schema, table) => {
    const name = `${schema}.${table}`;
    let verdict = cache.get(name);
    if (verdict === undefined) {
      verdict = (includes.length === 0 || includes.some((re) => re.test(name))) && !excludes.some((re) => re.test(name));
      if (cache.size > 100_000) cache.clear();
      cache.set(name, verdict);
    }
    return verdict;
  };
}

/**
 * Whether a database may hold tables the patterns include: its name matches the part of some include
 * pattern before the dot (every database when there is none), and no exclude pattern takes the whole
 * database (`shop` or `shop.*`).
 */
export function schemaMatcher(include: readonly string[] = [], exclude: readonly string[] = []): (schema: string) => boolean {
  const schemaPart = (pattern: string) => {
    const full = pattern.includes('.') || pattern.includes('*') ? pattern : `${pattern}.*`;
    const dot = full.indexOf('.');
    return dot < 0 ? full : full.slice(0, dot);
  };
  const includes = include.map((p) => compileTablePattern(`${schemaPart(p)}.*`));
  const wholeExcludes = exclude.filter((p) => !p.includes('.') || p.endsWith('.*')).map((p) => compileTablePattern(`${schemaPart(p)}.*`));
  return (schema) => {
    const probe = `${schema}.\u0000`;
    return (includes.length === 0 || includes.some((re) => re.test(probe))) && !wholeExcludes.some((re) => re.test(probe));
  };
}
