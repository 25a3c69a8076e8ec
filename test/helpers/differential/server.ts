/**
 * The source server a differential run writes to, and the facts about it the generator needs: its
 * flavor (some types exist on one server only) and, per character set, the characters that survive a
 * round trip through it (asked of the server once, so generated text is always storable).
 */
import mysql from 'mysql2/promise';

export type Flavor = 'mariadb' | 'mysql';

/**
 * The server a run writes to: its name and where Tunnel connects. The `SourceServer` entries of
 * test/helpers/servers.ts (`sourceServers`) have this shape too, so they can be passed as they are.
 */
export interface SourceEndpoint {
  /** A short name for messages and database names: `mariadb`, `mysql`. */
  name: string;
  connection: { host: string; port: number; user: string; password: string };
}

export interface ServerFacts {
  flavor: Flavor;
  version: string;
  /** Character sets this server has, among those the generator draws from. */
  charsets: string[];
  /** Per character set: characters (strings of one or a few code points) and their byte length in it. */
  pools: Map<string, CharsetPool>;
}

export interface CharsetPool {
  chars: string[];
  bytes: number[];
  /** The largest byte length of one character. */
  maxBytes: number;
}

/** The character sets of the value rules first, then others a user may have (drawn less often). */
export const PRIMARY_CHARSETS = ['utf8mb4', 'latin1', 'gbk', 'big5', 'sjis', 'utf16', 'utf32', 'binary'] as const;
export const OTHER_CHARSETS = [
  'utf8mb3',
  'ucs2',
  'utf16le',
  'ascii',
  'latin2',
  'latin5',
  'latin7',
  'cp1250',
  'cp1251',
  'cp1256',
  'cp1257',
  'cp850',
  'cp852',
  'cp866',
  'koi8r',
  'koi8u',
  'greek',
  'hebrew',
  'macroman',
  'macce',
  'euckr',
  'ujis',
  'eucjpms',
  'cp932',
  'gb2312',
  'gb18030',
  'tis620',
  'armscii8',
  'geostd8',
  'keybcs2',
  'dec8',
  'hp8',
  'swe7',
] as const;

/**
 * Characters tried in every character set; those that come back unchanged from
 * CONVERT(CONVERT(x USING cs) USING utf8mb4) form that set's pool. Besides ordinary letters of many
 * scripts it holds the characters where decoders are known to disagree: cp1252's 0x80-0x9F block and
 * its five unassigned bytes, Shift-JIS / Big5 characters whose second byte is 0x5C (backslash), the
 * JIS X 0208 characters that Shift_JIS and cp932 map to different code points (wave dash, minus,
 * double vertical line, cent/pound/not), the yen sign and overline of JIS-Roman, NEC/IBM extensions,
 * half-width katakana, GBK extensions, and 4-byte characters.
 */
export const CANDIDATE_CHARS: readonly string[] = [
  ...'abcXYZ09 _%,.-+=:;!?@#$&*()[]{}<>/|~^`'.split(''),
  "'",
  '"',
  '\\',
  '\t',
  '\n',
  '\r',
  '\u0000',
  ...'éÿßñ©¤µ×÷ÆØÅåøæÄÖÜäöüÿÀÉÈÊËÎÏÔÙÛÇ¡¿°±²³¹¼½¾'.split(''),
  '\u00a0',
  '\u00ad',
  '\u0081',
  '\u008d',
  '\u008f',
  '\u0090',
  '\u009d',
  ...'€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ'.split(''),
  ...'őŐűŰŁłčČšŠžŽğĞıİşŞ'.split(''),
  ...'αβγΩΣλάώ'.split(''),
  ...'ЖжЯяЁёҐґЄєІіЇї'.split(''),
  ...'שאבגת'.split(''),
  ...'عبةلا'.split(''),
  ...'กข๙'.split(''),
  ...'ԱաՔ'.split(''),
  ...'აბგ'.split(''),
  ...'한글각'.split(''),
  ...'中文汉字丂乗氵'.split(''),
  ...'繁體許功蓋枯涂'.split(''),
  ...'日本語表ソ能予十貼構'.split(''),
  ...'ｱｶﾀﾅﾝﾞﾟ｡'.split(''),
  ...'〜～−－∥‖¢£¬￠￡￢¥‾'.split(''),
  ...'①②Ⅰⅱ㈱№℡∑√∞≒'.split(''),
  ...'★♥✓☃'.split(''),
  '\ufffd',
  '\ufeff',
  '\u200b',
  '\u2028',
  'e\u0301',
  '😀',
  '🎉',
  '𝄞',
  '𠀀',
  '👨‍👩‍👧',
  '🇫🇷',
];

/** Asks the server what it is and which of the candidate characters each character set can store. */
export async function readServerFacts(conn: mysql.Connection): Promise<ServerFacts> {
  const [[versionRow]] = (await conn.query('SELECT VERSION() AS v')) as unknown as [[{ v: string }]];
  const version = versionRow.v;
  const flavor: Flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql';
  const [sets] = (await conn.query('SELECT CHARACTER_SET_NAME AS name FROM information_schema.CHARACTER_SETS')) as unknown as [Array<{ name: string }>];
  const have = new Set(sets.map((s) => s.name.toLowerCase()));
  // MariaDB names utf8mb3 'utf8mb3' in 10.6+, MySQL 8 too; older servers call it 'utf8'.
  const charsets = [...PRIMARY_CHARSETS, ...OTHER_CHARSETS].filter((c) => c === 'binary' || have.has(c));
  const pools = new Map<string, CharsetPool>();
  for (const cs of charsets) {
    if (cs === 'binary') continue;
    const exprs = CANDIDATE_CHARS.map((ch) => {
      const lit = `_utf8mb4 X'${Buffer.from(ch, 'utf8').toString('hex')}'`;
      return `HEX(CONVERT(CONVERT(${lit} USING ${cs}) USING utf8mb4)), OCTET_LENGTH(CONVERT(${lit} USING ${cs}))`;
    });
    const [rows] = (await conn.query({ sql: `SELECT ${exprs.join(', ')}`, rowsAsArray: true })) as unknown as [unknown[][]];
    const row = rows[0]!;
    const chars: string[] = [];
    const bytes: number[] = [];
    CANDIDATE_CHARS.forEach((ch, i) => {
      const back = row[2 * i] as string | null;
      if (back !== null && back.toLowerCase() === Buffer.from(ch, 'utf8').toString('hex')) {
        chars.push(ch);
        bytes.push(Number(row[2 * i + 1]));
      }
    });
    pools.set(cs, { chars, bytes, maxBytes: Math.max(1, ...bytes) });
  }
  return { flavor, version, charsets, pools };
}

/** A mysql2 connection to `server` with exact values (numbers and dates as strings), utf8mb4. */
export function connectTo(server: SourceEndpoint, options: mysql.ConnectionOptions = {}): Promise<mysql.Connection> {
  const { host, port, user, password } = server.connection;
  return mysql.createConnection({
    host,
    port,
    user,
    password,
    charset: 'utf8mb4',
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: false,
    ...options,
  });
}
