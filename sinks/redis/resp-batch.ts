/**
 * One batch of the Redis sink on its RESP connection (resp-connection.ts): the commands are encoded
 * as they are made and written in parts while the rest is encoded, so Redis works on the first part
 * while the next is built; then the replies are read for errors.
 *
 * Fenced (the default), each part is one call of the fenced-write script (fenced-writer.ts,
 * FENCED_WRITE_LUA) by its SHA1: `EVALSHA <sha> 1 <epoch key> <epoch> <count> <name> <args>...`,
 * the same script and arguments the ioredis path sends, so the epoch check runs atomically with
 * every command of the part, whichever path wrote it. With `fence: false` the parts are plain
 * commands.
 */
import { createHash } from 'node:crypto';
import { SinkError } from '../../core/errors/index.ts';
import type { WriteFence } from '../../core/sink/index.ts';
import type { Command } from './commands.ts';
import { redisErrorText } from './connection.ts';
import { FENCED_WRITE_LUA, MAX_COMMAND_ARGS, fencedError, splitLongCommands } from './fenced-writer.ts';
import type { RespConnection } from './resp-connection.ts';
import { RespEncoder, RespError, arrayHeader, type RespArg, type RespValue } from './resp.ts';

/** The script's SHA1, as Redis names it (SCRIPT LOAD returns the same). */
export const FENCED_WRITE_SHA = createHash('sha1').update(FENCED_WRITE_LUA).digest('hex');

/** Commands per script call: one script holds Redis while it runs, as a pipeline part of this size would not. */
const SCRIPT_COMMANDS = 500;
/** Encoded bytes per part: written while the rest of the batch is still being encoded. */
const PART_BYTES = 128 * 1024;

/** Redis lost the script (a restart, SCRIPT FLUSH): nothing of that part ran; load it and write the batch again. */
export class ScriptMissingError extends SinkError {
  override readonly name = 'ScriptMissingError';
}

/** What a batch's replies said: per command its event (`owner`, -1 for the registry) and the errors by command. */
export interface BatchOutcome {
  owner: number[];
  errors: Map<number, string>;
  /** A READONLY answer (connected to a replica): no command's fault, the batch goes again on a new connection. */
  readOnly?: string;
  /** Commands that did not land while others did (Redis Cluster, a slot group's node down), by command. */
  undelivered?: Map<number, string>;
}

const READONLY = /^READONLY\b/;

/** Makes sure Redis has the fenced-write script (SCRIPT LOAD), once per connection until it goes missing. */
export async function loadFencedScript(connection: RespConnection): Promise<void> {
  const [reply] = await connection.send(encodeScriptLoad(), 1);
  if (reply instanceof RespError) throw new SinkError(`redis: cannot load the fenced-write script: ${reply.message}`);
  if (reply !== FENCED_WRITE_SHA) throw new SinkError(`redis: SCRIPT LOAD answered ${String(reply)}, expected ${FENCED_WRITE_SHA}`);
}

function encodeScriptLoad(): Buffer {
  const encoder = new RespEncoder(FENCED_WRITE_LUA.length + 64);
  encoder.push(['script', 'load', FENCED_WRITE_LUA]);
  return encoder.take();
}

interface Part {
  /** The index of its first command in the batch. */
  first: number;
  replies: Promise<RespValue[]>;
}

export class RespBatch {
  readonly #connection: RespConnection;
  readonly #encoder: RespEncoder;
  /** Fenced: the part's script call up to its commands (EVALSHA, SHA, 1, key, epoch), encoded once. */
  readonly #scriptHead: Buffer | undefined;
  readonly #fence: WriteFence | undefined;
  readonly #epochKey: string;
  readonly #owner: number[] = [];
  /** Each command's name and key, for the message of an error reply. */
  readonly #names: RespArg[] = [];
  readonly #parts: Part[] = [];
  #partFirst = 0;

  /**
   * `encoder` must be empty, and the batch's commands added and finished without an await between
   * them, so batches that share one encoder do not interleave.
   */
  constructor(connection: RespConnection, encoder: RespEncoder, fenced?: { fence: WriteFence; epochKey: string }) {
    this.#connection = connection;
    this.#encoder = encoder;
    this.#fence = fenced?.fence;
    this.#epochKey = fenced?.epochKey ?? '';
    if (fenced) {
      const head = new RespEncoder(256);
      head.pushArgs(['evalsha', FENCED_WRITE_SHA, 1, fenced.epochKey, fenced.fence.epoch]);
      this.#scriptHead = head.take();
    }
  }

  /** Adds one command of event `owner` (-1: the registry); `args` may be reused by the caller afterwards. */
  add(args: readonly RespArg[], owner: number): void {
    if (this.#scriptHead && args.length > MAX_COMMAND_ARGS) {
      // more arguments than the script can unpack: the same command in parts (HSET, SADD, ...)
      for (const part of splitLongCommands([args.slice() as Command])) this.add(part as RespArg[], owner);
      return;
    }
    const encoder = this.#encoder;
    if (this.#scriptHead) {
      encoder.pushCounted(args);
    } else {
      encoder.push(args);
    }
    this.#owner.push(owner);
    this.#names.push(args[0]!, args[1]!);
    if (encoder.bytes >= PART_BYTES || (this.#scriptHead && encoder.count >= SCRIPT_COMMANDS)) this.#sendPart();
  }

  #sendPart(): void {
    const encoder = this.#encoder;
    const count = encoder.count;
    if (count === 0) return;
    const first = this.#partFirst;
    this.#partFirst += count;
    const head = this.#scriptHead;
    if (head) {
      const args = encoder.args;
      const body = encoder.take();
      // EVALSHA, the SHA, 1, the key and the epoch, then the commands' arguments
      const header = Buffer.from(arrayHeader(5 + args), 'latin1');
      this.#parts.push({ first, replies: this.#connection.send([header, head, body], 1) });
    } else {
      this.#parts.push({ first, replies: this.#connection.send(encoder.take(), count) });
    }
  }

  /**
   * Sends what is left and reads every reply. Throws FencedError when Redis holds a newer epoch of
   * the task, ScriptMissingError when it lost the script, and the connection's error when it failed.
   */
  async finish(): Promise<BatchOutcome> {
    this.#sendPart();
    const errors = new Map<number, string>();
    const names = this.#names;
    let readOnly: string | undefined;
    const commandError = (i: number, message: string) => {
      if (READONLY.test(message)) readOnly ??= message;
      errors.set(i, `redis reply error on ${String(names[2 * i]).toUpperCase()} ${names[2 * i + 1]}: ${redisErrorText(new Error(message))}`);
    };
    const replies = await Promise.all(this.#parts.map((part) => part.replies));
    let refused: string | undefined;
    let missing = false;
    let failed: string | undefined;
    replies.forEach((values, p) => {
      const first = this.#parts[p]!.first;
      if (!this.#scriptHead) {
        values.forEach((value, k) => {
          if (value instanceof RespError) commandError(first + k, value.message);
        });
        return;
      }
      const reply = values[0];
      if (reply instanceof RespError) {
        if (reply.message.startsWith('NOSCRIPT')) missing = true;
        else if (READONLY.test(reply.message)) readOnly ??= reply.message;
        else failed ??= reply.message;
        return;
      }
      if (!Array.isArray(reply)) {
        failed ??= `the fenced-write script answered ${JSON.stringify(reply)}`;
        return;
      }
      if (reply[0] === 0) {
        refused = String(reply[1]);
        return;
      }
      // {1, index, error, index, error, ...}: the commands that answered an error
      for (let e = 1; e + 1 < reply.length; e += 2) commandError(first + Number(reply[e]), String(reply[e + 1]));
    });
    if (refused !== undefined) throw fencedError(this.#fence!, refused, this.#epochKey);
    if (readOnly !== undefined) return { owner: this.#owner, errors, readOnly };
    if (missing) throw new ScriptMissingError('redis: the fenced-write script is not loaded (NOSCRIPT)');
    if (failed !== undefined) throw new SinkError(`redis: the fenced-write script failed: ${failed}`);
    return { owner: this.#owner, errors, ...(readOnly !== undefined ? { readOnly } : {}) };
  }
}
