/**
 * The temporal types of binlog row images (sql-common/my_time.c: the MySQL 5.6.4+ binary formats,
 * which MariaDB also writes), read into the strings of docs/values.md.
 */
const PAD2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));
function pad2(n: number): string {
  return n < 100 ? PAD2[n]! : String(n);
}
function pad4(n: number): string {
  return n < 10 ? `000${n}` : n < 100 ? `00${n}` : n < 1000 ? `0${n}` : String(n);
}
function padN(n: number, width: number): string {
  const s = String(n);
  return s.length >= width ? s : '0'.repeat(width - s.length) + s;
}

export function fractionBytes(fsp: number): number {
  return (fsp + 1) >> 1;
}

/** Microseconds of a DATETIME2/TIMESTAMP2 fraction (unsigned, big-endian). */
function readFraction(buf: Buffer, pos: number, fsp: number): number {
  switch (fsp) {
    case 1:
    case 2:
      return buf[pos]! * 10000;
    case 3:
    case 4:
      return buf.readUInt16BE(pos) * 100;
    case 5:
    case 6:
      return buf.readUIntBE(pos, 3);
    default:
      return 0;
  }
}

function fractionString(micros: number, fsp: number): string {
  if (fsp === 0) return '';
  return `.${padN(micros, 6).slice(0, fsp)}`;
}

/** DATE: 3 bytes little-endian, day:5 month:4 year:15. */
export function readDate(buf: Buffer, pos: number): string {
  const v = buf.readUIntLE(pos, 3);
  return `${pad4(v >>> 9)}-${pad2((v >>> 5) & 15)}-${pad2(v & 31)}`;
}

/** DATETIME2(fsp): 5 bytes big-endian (offset 0x8000000000) + fraction; the wall-clock string. */
export function readDatetime2(buf: Buffer, pos: number, fsp: number): string {
  const intpart = buf.readUIntBE(pos, 5) - 0x8000000000;
  const ymd = Math.floor(intpart / 131072); // >> 17
  const hms = intpart % 131072;
  const ym = ymd >>> 5;
  const day = ymd & 31;
  const month = ym % 13;
  const year = Math.floor(ym / 13);
  const hour = hms >>> 12;
  const minute = (hms >>> 6) & 63;
  const second = hms & 63;
  return `${pad4(year)}-${pad2(month)}-${pad2(day)} ${pad2(hour)}:${pad2(minute)}:${pad2(second)}` + fractionString(readFraction(buf, pos + 5, fsp), fsp);
}

/** TIME2(fsp): 3 bytes big-endian (offset 0x800000) + fraction; '[-]HH:MM:SS[.f]'. */
export function readTime2(buf: Buffer, pos: number, fsp: number): string {
  let packed: number;
  switch (fsp) {
    case 1:
    case 2: {
      let intpart = buf.readUIntBE(pos, 3) - 0x800000;
      let frac = buf[pos + 3]!;
      if (intpart < 0 && frac !== 0) {
        intpart += 1;
        frac -= 0x100;
      }
      packed = intpart * 16777216 + frac * 10000;
      break;
    }
    case 3:
    case 4: {
      let intpart = buf.readUIntBE(pos, 3) - 0x800000;
      let frac = buf.readUInt16BE(pos + 3);
      if (intpart < 0 && frac !== 0) {
        intpart += 1;
        frac -= 0x10000;
      }
      packed = intpart * 16777216 + frac * 100;
      break;
    }
    case 5:
    case 6:
      packed = buf.readUIntBE(pos, 6) - 0x800000000000;
      break;
    default:
      packed = (buf.readUIntBE(pos, 3) - 0x800000) * 16777216;
  }
  const negative = packed < 0;
  if (negative) packed = -packed;
  const hms = Math.floor(packed / 16777216);
  const micros = packed % 16777216;
  const hour = (hms >>> 12) % 1024;
  const minute = (hms >>> 6) & 63;
  const second = hms & 63;
  return `${negative ? '-' : ''}${pad2(hour)}:${pad2(minute)}:${pad2(second)}${fractionString(micros, fsp)}`;
}

/** TIMESTAMP2(fsp): 4 bytes big-endian UTC seconds + fraction; the UTC instant, or the zero value. */
export function readTimestamp2(buf: Buffer, pos: number, fsp: number): string {
  const seconds = buf.readUInt32BE(pos);
  const micros = readFraction(buf, pos + 4, fsp);
  return formatTimestamp(seconds, micros, fsp);
}

export function formatTimestamp(seconds: number, micros: number, fsp: number): string {
  if (seconds === 0) return `0000-00-00 00:00:00${fractionString(0, fsp)}`;
  // toISOString: 'YYYY-MM-DDTHH:MM:SS.sssZ'; TIMESTAMP's range (1970..2106) keeps the 4-digit year.
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}${fractionString(micros, fsp)}Z`;
}
