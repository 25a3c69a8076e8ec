/**
 * RESP2, the Redis protocol, as much as the sink's writer needs: commands encoded into one growing
 * buffer, and replies read back from the socket's chunks.
 *
 * Encoding: a command is built as one string and written with one utf8Write. Each argument's length
 * prefix is its byte length; it is first taken as the string's length, which is right when the text
 * is ASCII; the write's byte count shows whether it was (bytes = characters), and a command with
 * other text is encoded again with Buffer.byteLength for each argument. Lone surrogates are written
 * as U+FFFD, as every Node Redis client writes them.
 */

export type RespArg = string | number;

/** A reply the server sent: null for a nil bulk or array. */
export type RespValue = string | number | null | RespError | RespValue[];

/** An error reply (`-ERR ...`, `-WRONGTYPE ...`): a value, not a thrown error. */
export class RespError {
  constructor(readonly message: string) {}
}

const CRLF = '\r\n';
/** `$<n>\r\n` for the lengths arguments usually have. */
const BULK_HEADERS = Array.from({ length: 1024 }, (_, n) => `$${n}\r\n`);
const ARRAY_HEADERS = Array.from({ length: 256 }, (_, n) => `*${n}\r\n`);

const bulkHeader = (n: number): string => (n < 1024 ? BULK_HEADERS[n]! : `$${n}\r\n`);
const COUNT_BULKS = Array.from({ length: 64 }, (_, n) => `${bulkHeader(`${n}`.length)}${n}\r\n`);
const countBulk = (n: number): string => (n < 64 ? COUNT_BULKS[n]! : `${bulkHeader(`${n}`.length)}${n}\r\n`);

/** An argument's text: numbers as JavaScript prints them (a non-finite one as its JSON text, null). */
function argText(arg: RespArg): string {
  return typeof arg === 'string' ? arg : Number.isFinite(arg) ? `${arg}` : 'null';
}

/** The array header of `count` elements. */
export function arrayHeader(count: number): string {
  return count < 256 ? ARRAY_HEADERS[count]! : `*${count}\r\n`;
}

/**
 * What comes before a command's arguments: its array header ('array'); nothing ('none', arguments
 * of a longer command); or their count as a bulk string ('count', a command inside a script call's
 * arguments).
 */
type Header = 'array' | 'none' | 'count';

function commandText(args: readonly RespArg[], exact: boolean, header: Header): string {
  let out = header === 'array' ? arrayHeader(args.length) : header === 'count' ? countBulk(args.length) : '';
  for (let i = 0; i < args.length; i++) {
    const text = argText(args[i]!);
    out += bulkHeader(exact ? Buffer.byteLength(text, 'utf8') : text.length) + text + CRLF;
  }
  return out;
}

/** Commands appended to one buffer, taken whole (`take`) to be written. */
export class RespEncoder {
  #buf: Buffer;
  #length = 0;
  /** Commands encoded since the last take(). */
  count = 0;
  /** Arguments appended by pushArgs since the last take(). */
  args = 0;

  constructor(initialBytes = 64 * 1024) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  get bytes(): number {
    return this.#length;
  }

  #room(bytes: number): void {
    if (this.#length + bytes <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#length + bytes));
    this.#buf.copy(next, 0, 0, this.#length);
    this.#buf = next;
  }

  /** Appends one command. */
  push(args: readonly RespArg[]): void {
    this.#append(args, 'array');
    this.count++;
  }

  /**
   * Appends arguments of a command whose array header is written apart (a script call, resp-batch.ts):
   * their bulk strings only, counted in `args`, not in `count`.
   */
  pushArgs(args: readonly RespArg[]): void {
    this.#append(args, 'none');
    this.args += args.length;
  }

  /**
   * Appends a command as a script call's arguments (resp-batch.ts): its number of arguments, then
   * them; counted in `count`, and its 1 + args.length bulk strings in `args`.
   */
  pushCounted(args: readonly RespArg[]): void {
    this.#append(args, 'count');
    this.args += args.length + 1;
    this.count++;
  }

  #append(args: readonly RespArg[], header: Header): void {
    let text = commandText(args, false, header);
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    this.#room(text.length * 3);
    let written = this.#buf.write(text, this.#length, 'utf8');
    if (written !== text.length) {
      text = commandText(args, true, header);
      this.#room(text.length * 3);
      written = this.#buf.write(text, this.#length, 'utf8');
    }
    this.#length += written;
  }

  /** The commands encoded so far (a copy that owns its memory); the encoder starts again empty. */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.#length);
    this.#buf.copy(out, 0, 0, this.#length);
    this.#length = 0;
    this.count = 0;
    this.args = 0;
    return out;
  }
}

/** The whole encoding of one command (for the connection's own commands: AUTH, SELECT, PING). */
export function encodeCommand(args: readonly RespArg[]): Buffer {
  const encoder = new RespEncoder(256);
  encoder.push(args);
  return encoder.take();
}

/**
 * Reads replies from the chunks of a socket, in order. `feed` returns the replies completed by the
 * chunk; a reply cut between chunks waits for the rest.
 */
export class RespReader {
  #pending: Buffer | undefined;

  feed(chunk: Buffer): RespValue[] {
    let buf = chunk;
    if (this.#pending) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    const out: RespValue[] = [];
    let pos = 0;
    while (pos < buf.length) {
      const parsed = parseValue(buf, pos);
      if (parsed === undefined) break;
      out.push(parsed.value);
      pos = parsed.end;
    }
    if (pos < buf.length) this.#pending = buf.subarray(pos);
    return out;
  }
}

class ProtocolError extends Error {}

/** The end of the line starting at `pos` (the index of its \r), or -1 when the chunk has no end yet. */
function lineEnd(buf: Buffer, pos: number): number {
  const cr = buf.indexOf(13, pos);
  return cr < 0 || cr + 1 >= buf.length ? -1 : cr;
}

function integerAt(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (buf[i] === 45) {
    negative = true;
    i++;
  }
  let n = 0;
  for (; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) throw new ProtocolError(`redis: bad number in a reply: ${buf.toString('latin1', start, end)}`);
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

function parseValue(buf: Buffer, pos: number): { value: RespValue; end: number } | undefined {
  const cr = lineEnd(buf, pos + 1);
  if (cr < 0) return undefined;
  const type = buf[pos];
  switch (type) {
    case 43: // + simple string
      return { value: buf.toString('utf8', pos + 1, cr), end: cr + 2 };
    case 45: // - error
      return { value: new RespError(buf.toString('utf8', pos + 1, cr)), end: cr + 2 };
    case 58: // : integer
      return { value: integerAt(buf, pos + 1, cr), end: cr + 2 };
    case 36: {
      // $ bulk string
      const length = integerAt(buf, pos + 1, cr);
      if (length < 0) return { value: null, end: cr + 2 };
      const start = cr + 2;
      if (start + length + 2 > buf.length) return undefined;
      return { value: buf.toString('utf8', start, start + length), end: start + length + 2 };
    }
    case 42: {
      // * array
      const count = integerAt(buf, pos + 1, cr);
      if (count < 0) return { value: null, end: cr + 2 };
      const items: RespValue[] = new Array<RespValue>(count);
      let at = cr + 2;
      for (let i = 0; i < count; i++) {
        if (at >= buf.length) return undefined;
        const item = parseValue(buf, at);
        if (item === undefined) return undefined;
        items[i] = item.value;
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new ProtocolError(`redis: unexpected reply type 0x${(type ?? 0).toString(16)}`);
  }
}

export { ProtocolError as RespProtocolError };
