/**
 * `schema.table` glob patterns: `*` matches any run of characters, `?` one character; a pattern
 * without a dot matches a whole schema (`shop` = `shop.*`). Compiled once, matched per table.
 */
export type TableMatcher = (schema: string, table: string) => boolean;

export function compileTablePattern(pattern: string): RegExp {
  const full = pattern.includes('.') ? pattern : `${pattern}.*`;
  const source = full
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$+.()|[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

/** A matcher for include/exclude lists: an empty include list includes every table; exclude wins. */
export function tableMatcher(include: readonly string[] = [], exclude: readonly string[] = []): TableMatcher {
  const inc = include.map(compileTablePattern);
  const exc = exclude.map(compileTablePattern);
  const cache = new Map<string, boolean>();
  return (schema, table) => {
    const name = `${schema}.${table}`;
    let verdict = cache.get(name);
    if (verdict === undefined) {
      verdict = (inc.length === 0 || inc.some((re) => re.test(name))) && !exc.some((re) => re.test(name));
      cache.set(name, verdict);
    }
    return verdict;
  };
}
