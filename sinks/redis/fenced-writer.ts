/**
 * Every write of the Redis sink, rows, registry and table operations alike, runs inside one Lua
 * script that first compares the batch's epoch with the task's epoch kept in Redis
 * (`{keyPrefix}{task}`): an older epoch is refused and nothing of the batch is written; a newer one
 * is stored, then the commands run. Redis runs a script atomically, so no write of another client
 * comes between the check and the commands (a check followed by a pipeline would leave that gap).
 * docs/architecture.md, "Fencing at the sink", has why this is enough: a new owner writes everything
 * after the last committed position again, so what an old owner wrote before the new owner's first
 * write is overwritten, and nothing it sends after it lands.
 *
 * The commands travel as the script's arguments (count, name, arguments, count, name, ...) and run
 * with `redis.pcall`, so a command's error (WRONGTYPE) does not stop the others, as in a pipeline;
 * the script returns the errors only. A batch of many commands is sent as several scripts written
 * back to back on the connection (each fenced on its own).
 *
 * Redis Cluster: the keys of one script must share a slot, so the commands are grouped by the slot
 * of their key and each group checks an epoch key of its own in that slot
 * (`{keyPrefix}{task}:{<tag>}`, a hash tag chosen to land there). An old owner is then refused slot
 * by slot as the new owner writes to each, which is as good: it can only write keys the new owner
 * writes again.
 */
import { Cluster } from 'ioredis';
import { FencedError, SinkError } from '../../core/errors/index.ts';
import type { WriteFence } from '../../core/sink/index.ts';
import type { Command } from './commands.ts';
import { redisErrorText, type RedisClient } from './connection.ts';

/** KEYS[1]: the epoch key; ARGV[1]: the epoch; then per command its length, its name and arguments. */
export const FENCED_WRITE_LUA = `
local current = redis.call('GET', KEYS[1])
local epoch = ARGV[1]
if current and tonumber(current) > tonumber(epoch) then
  return {0, current}
end
if current ~= epoch then redis.call('SET', KEYS[1], epoch) end
local out = {1}
local i = 2
local n = #ARGV
local c = 0
while i <= n do
  local count = tonumber(ARGV[i])
  local reply = redis.pcall(unpack(ARGV, i + 1, i + count))
  if type(reply) == 'table' and reply.err then
    out[#out + 1] = c
    out[#out + 1] = reply.err
  end
  c = c + 1
  i = i + count + 1
end
return out
`;

const SCRIPT = 'tunnelFencedWrite';
/** Lua's unpack takes a few thousand values at most: longer commands are split first (splitLongCommands). */
export const MAX_COMMAND_ARGS = 4000;

/** The key holding a task's epoch (standalone and Sentinel; a cluster has one per slot beside it). */
export function epochKey(keyPrefix: string, task: string): string {
  return `${keyPrefix}${task}`;
}

/** The error of a write the script refused: Redis holds `stored`, a newer epoch of the task. */
export function fencedError(fence: WriteFence, stored: string, key: string): FencedError {
  return new FencedError(
    `redis refused the write of task "${fence.task}": it holds epoch ${stored} (key ${key}), ` +
      `newer than this worker's ${fence.epoch}: another worker owns the task now. If no other worker runs it (the ZooKeeper registry was recreated, ` +
      `or the task moved from a cluster to a standalone worker), delete that key`,
    { task: fence.task, epoch: fence.epoch, stored: Number(stored) },
  );
}

type ScriptCall = (key: string, epoch: number, ...args: Array<string | number | Buffer>) => Promise<unknown>;
type ScriptClient = RedisClient & { [SCRIPT]: ScriptCall };

/** What one command of a batch answered: null, or its error. */
export type CommandError = Error | null;

/**
 * A command that did not reach Redis, or whose answer did not come back (Redis Cluster: the script of
 * its slot group failed as a whole while others landed): the batch is sent again from its event on.
 */
export class UndeliveredError extends SinkError {}

export class FencedWriter {
  readonly #client: ScriptClient;
  readonly #keyPrefix: string;
  /** Cluster: a hash tag per slot (see tagOf). */
  readonly #tags = new Map<number, string>();
  #nextCandidate = 0;

  constructor(client: RedisClient, keyPrefix: string) {
    if (!(SCRIPT in client)) client.defineCommand(SCRIPT, { numberOfKeys: 1, lua: FENCED_WRITE_LUA });
    this.#client = client as ScriptClient;
    this.#keyPrefix = keyPrefix;
  }

  /** The key holding the task's epoch (standalone and Sentinel). */
  epochKey(task: string): string {
    return epochKey(this.#keyPrefix, task);
  }

  /**
   * Runs the commands, in order per key, in scripts of at most `chunk` commands; one error (or null)
   * per command. FencedError when Redis holds a newer epoch for the task: then nothing of the
   * refused scripts was written.
   */
  async run(commands: readonly Command[], fence: WriteFence, chunk: number): Promise<CommandError[]> {
    const client = this.#client;
    const cluster = client instanceof Cluster;
    const parts = cluster ? this.#bySlot(commands, fence.task) : [{ key: this.epochKey(fence.task), indexes: commands.map((_, i) => i) }];
    const errors: CommandError[] = new Array(commands.length).fill(null);
    const calls: Array<{ key: string; args: Array<string | number | Buffer>; indexes: number[] }> = [];
    for (const part of parts) {
      for (let start = 0; start < part.indexes.length; start += chunk) {
        const indexes = part.indexes.slice(start, start + chunk);
        const args: Array<string | number | Buffer> = [];
        for (const i of indexes) {
          const command = commands[i]!;
          args.push(command.length);
          for (const arg of command) args.push(arg);
        }
        calls.push({ key: part.key, args, indexes });
      }
    }
    let replies: unknown[];
    if (cluster) {
      // One script per slot group, each sent to its node (ioredis pipelines them per connection).
      // Every script is awaited, failed or not: ioredis retries a command on its own for a while
      // (CLUSTERDOWN, a node reconnecting), and one still under way when the batch is sent again
      // could land after a newer write of the same keys.
      const send = (c: (typeof calls)[number]) => client[SCRIPT](c.key, fence.epoch, ...c.args);
      const settled: PromiseSettledResult<unknown>[] = await Promise.allSettled(calls.map(send));
      // A node that refused the script's first EVAL (CLUSTERDOWN while it rejoined) answers later
      // EVALSHAs with NOSCRIPT, and ioredis loads it again on whatever node it picks: load it on every
      // primary and send those groups once more (a NOSCRIPT ran nothing).
      const unloaded = settled.flatMap((s, n) => (s.status === 'rejected' && /NOSCRIPT/.test(String((s.reason as Error)?.message)) ? [n] : []));
      if (unloaded.length > 0) {
        await Promise.allSettled((client as Cluster).nodes('master').map((node) => node.script('LOAD', FENCED_WRITE_LUA)));
        const again = await Promise.allSettled(unloaded.map((n) => send(calls[n]!)));
        unloaded.forEach((n, i) => (settled[n] = again[i]!));
      }
      const failed = settled.filter((s) => s.status === 'rejected');
      // ioredis follows a MOVED only when every command of a node's auto-pipeline got the same one;
      // otherwise the error comes back as it is and its slot map stays wrong (for good, after a node
      // restarted: the slots point at a connection it dropped). Ask the cluster again before the retry.
      if (failed.length > 0) await new Promise<void>((resolve) => (client as Cluster).refreshSlotsCache(() => resolve()));
      if (failed.length === settled.length) throw (failed[0] as PromiseRejectedResult).reason;
      replies = settled.map((s, n) => {
        if (s.status === 'fulfilled') return s.value;
        // a slot group that did not land (its node down, the cluster refusing): its commands only
        const error = new UndeliveredError(redisErrorText(s.reason));
        for (const i of calls[n]!.indexes) errors[i] = error;
        return [1];
      });
    } else {
      // written back to back on the one connection: Redis runs one while the next is encoded
      const pipeline = client.pipeline();
      const call = (pipeline as unknown as Record<typeof SCRIPT, ScriptCall>)[SCRIPT].bind(pipeline);
      for (const c of calls) void call(c.key, fence.epoch, ...c.args);
      const results = await pipeline.exec();
      if (!results) throw new SinkError('a pipeline was discarded (no replies)');
      replies = results.map(([error, value]) => {
        if (error) throw error;
        return value;
      });
    }
    let refused: string | undefined;
    replies.forEach((reply, n) => {
      const list = reply as Array<number | string>;
      if (Number(list[0]) === 0) {
        refused = String(list[1]);
        return;
      }
      const { indexes } = calls[n]!;
      for (let e = 1; e + 1 < list.length; e += 2) {
        const at = indexes[Number(list[e])];
        if (at !== undefined) errors[at] = new SinkError(String(list[e + 1]));
      }
    });
    if (refused !== undefined) {
      throw fencedError(fence, refused, `${this.epochKey(fence.task)}${cluster ? ':{…} per slot' : ''}`);
    }
    return errors;
  }

  /** Cluster: the commands grouped by the slot of their key, each group with its epoch key there. */
  #bySlot(commands: readonly Command[], task: string): Array<{ key: string; indexes: number[] }> {
    const groups = new Map<number, number[]>();
    commands.forEach((command, i) => {
      const slot = keySlot(String(command[1]));
      let group = groups.get(slot);
      if (!group) groups.set(slot, (group = []));
      group.push(i);
    });
    return [...groups].map(([slot, indexes]) => ({ key: `${this.epochKey(task)}:{${this.#tagOf(slot)}}`, indexes }));
  }

  /** A short text whose hash slot is `slot` (found once, by trying candidates in order). */
  #tagOf(slot: number): string {
    let tag = this.#tags.get(slot);
    while (tag === undefined) {
      const candidate = (this.#nextCandidate++).toString(36);
      const at = crc16(candidate) % 16384;
      if (!this.#tags.has(at)) this.#tags.set(at, candidate);
      if (at === slot) tag = candidate;
    }
    return tag;
  }
}

/**
 * Commands with more arguments than a script call can pass on are split into several of the same
 * kind (HSET, HDEL, SADD, SREM, ZADD, ZREM: the same effect in parts); others pass as they are.
 */
export function splitLongCommands(commands: Command[]): Command[] {
  if (commands.every((c) => c.length <= MAX_COMMAND_ARGS)) return commands;
  const out: Command[] = [];
  for (const command of commands) {
    if (command.length <= MAX_COMMAND_ARGS) {
      out.push(command);
      continue;
    }
    const [name, key, ...rest] = command;
    const step = name === 'hset' || name === 'zadd' ? 2 : 1;
    const per = Math.floor((MAX_COMMAND_ARGS - 2) / step) * step;
    for (let i = 0; i < rest.length; i += per) out.push([name, key!, ...rest.slice(i, i + per)] as Command);
  }
  return out;
}

/** The hash slot of a key (CRC16/XMODEM of the key, or of its first non-empty {hash tag}). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(key) % 16384;
}

function crc16(text: string): number {
  const bytes = Buffer.from(text, 'utf8');
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
