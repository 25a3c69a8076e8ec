/**
 * JSON text to the value rules' form, independently of Tunnel: a strict JSON parser that keeps an
 * integer beyond 2^53-1 as its exact decimal string (as the rules ask of integers inside JSON
 * columns) and reads every other number as a double. Object keys keep their order of appearance.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function parseExactJson(text: string): Json {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`invalid JSON at ${i}: ${what} in ${text.slice(Math.max(0, i - 20), i + 20)}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): Json => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      const out: { [key: string]: Json } = {};
      ws();
      if (text[i] === '}') return (i++, out);
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        ws();
        if (text[i++] !== ':') fail('expected :');
        // defineProperty: a key named __proto__ is data, as in JSON.parse.
        Object.defineProperty(out, key, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return (i++, out);
        else fail('expected , or }');
      }
    }
    if (ch === '[') {
      i++;
      const out: Json[] = [];
      ws();
      if (text[i] === ']') return (i++, out);
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return (i++, out);
        else fail('expected , or ]');
      }
    }
    if (ch === '"') return string();
    if (text.startsWith('true', i)) return ((i += 4), true);
    if (text.startsWith('false', i)) return ((i += 5), false);
    if (text.startsWith('null', i)) return ((i += 4), null);
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('expected a value');
    i += m[0].length;
    return exactNumber(m[0], m[1] === undefined && m[2] === undefined);
  };
  const string = (): string => {
    const start = i;
    // JSON.parse of the string token alone: the escapes are JSON's own.
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const result = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return result;
}

/** An integer literal beyond 2^53-1 stays its decimal string; every other number is a double. */
export function exactNumber(literal: string, integer: boolean): number | string {
  if (integer) {
    const big = BigInt(literal);
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER)) return big.toString();
  }
  return Number(literal);
}
