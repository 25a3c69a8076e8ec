/**
 * DECIMAL's binary form (strings/decimal.c decimal2bin): the layout of a DECIMAL column in a rows
 * event, and of a DECIMAL value inside MySQL's binary JSON.
 */

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4] as const;

function padN(n: number, width: number): string {
  const s = String(n);
  return s.length >= width ? s : '0'.repeat(width - s.length) + s;
}

export function decimalBinarySize(precision: number, scale: number): number {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + DIG2BYTES[intg % 9]! + Math.floor(scale / 9) * 4 + DIG2BYTES[scale % 9]!;
}

/** The exact decimal string of a binary DECIMAL(precision, scale) at buf[pos]. */
export function readDecimal(buf: Buffer, pos: number, precision: number, scale: number): string {
  const intg = precision - scale;
  const intg0 = Math.floor(intg / 9);
  const intg0x = intg % 9;
  const frac0 = Math.floor(scale / 9);
  const frac0x = scale % 9;
  const negative = (buf[pos]! & 0x80) === 0;
  const mask = negative ? 0xff : 0;
  let p = pos;
  // Big-endian group of n bytes; the sign bit is the top bit of the value's first byte.
  const group = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      let b = buf[p + i]!;
      if (p + i === pos) b ^= 0x80;
      v = v * 256 + (b ^ mask);
    }
    p += n;
    return v;
  };
  let int = '';
  if (intg0x > 0) {
    const v = group(DIG2BYTES[intg0x]!);
    if (v > 0) int = String(v);
  }
  for (let k = 0; k < intg0; k++) {
    const v = group(4);
    int = int === '' ? (v > 0 ? String(v) : '') : int + padN(v, 9);
  }
  if (int === '') int = '0';
  let frac = '';
  for (let k = 0; k < frac0; k++) frac += padN(group(4), 9);
  if (frac0x > 0) frac += padN(group(DIG2BYTES[frac0x]!), frac0x);
  const digits = scale > 0 ? `${int}.${frac}` : int;
  // A negative zero cannot be stored by the server; never print one.
  return negative && /[1-9]/.test(digits) ? `-${digits}` : digits;
}
