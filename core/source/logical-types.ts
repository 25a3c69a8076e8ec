/**
 * The text forms of MariaDB's UUID, INET4 and INET6 columns, which the binlog carries as their
 * 16, 4 and 16 bytes (UUID in its in-memory order, the order of its text), printed as the server's
 * SELECT prints them.
 */

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** UUID: 8-4-4-4-12 lowercase hex digits. */
export function formatUuid(bytes: Buffer): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX[bytes[i]!];
  }
  return s;
}

/** INET4: dotted decimal. */
export function formatInet4(bytes: Buffer, at = 0): string {
  return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
}

/**
 * INET6 as MariaDB prints it (Inet6::to_string, the algorithm of MySQL's INET6_NTOA): lowercase
 * groups without leading zeros; the longest run of zero groups, even a single one, becomes '::'
 * (the first of equally long runs); an address whose first six groups are zero (IPv4-compatible,
 * unless it is '::' or '::x' with x in group 7 only) or whose first five are zero and sixth ffff
 * (IPv4-mapped) ends in dotted decimal. RFC 5952 differs on a single zero group, which it keeps.
 */
export function formatInet6(bytes: Buffer): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let gapStart = -1;
  let gapLength = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > gapLength) {
      gapStart = i;
      gapLength = j - i;
    }
    i = j;
  }
  if (gapStart === 0 && (gapLength === 6 || (gapLength === 5 && words[5] === 0xffff))) {
    return `${gapLength === 6 ? '::' : '::ffff:'}${formatInet4(bytes, 12)}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === gapStart) {
      s += i === 0 ? '::' : ':';
      i += gapLength - 1;
      continue;
    }
    s += words[i]!.toString(16);
    if (i < 7) s += ':';
  }
  return s;
}
