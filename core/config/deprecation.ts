/**
 * Config keys renamed to say what they count. The old key keeps working; the first use of each in a
 * process prints one DeprecationWarning naming the new key (Node's `--no-deprecation` silences it).
 */
const warned = new Set<string>();

export function warnRenamedKey(oldKey: string, newKey: string, why: string): void {
  if (warned.has(oldKey)) return;
  warned.add(oldKey);
  process.emitWarning(`\`${oldKey}\` is deprecated: write \`${newKey}\` instead (${why}); the old name still works`, {
    type: 'DeprecationWarning',
    code: 'TUNNEL_DEP_RENAMED_KEY',
  });
}
