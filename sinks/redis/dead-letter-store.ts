import { compileTemplate, type CompiledTemplate } from '../../core/event/index.ts';
import type { DeadLetter, DeadLetterStore } from '../../core/dead-letter/index.ts';
import { closeRedisClient, connectRedis, createRedisClient, type RedisClient } from './connection.ts';
import type { ResolvedRedisDeadLetterStoreOptions } from './options.ts';

/**
 * Dead letters in Redis: one list per task (RPUSH, newest last) of JSON-encoded DeadLetter
 * objects, plus a set of the task names that have any, so they can be listed across tasks.
 */
export class RedisDeadLetterStore implements DeadLetterStore {
  readonly #options: ResolvedRedisDeadLetterStoreOptions;
  readonly #key: CompiledTemplate;
  readonly #defaultTask: string | undefined;
  #client: RedisClient | undefined;

  constructor(options: ResolvedRedisDeadLetterStoreOptions, defaultTask?: string) {
    this.#options = options;
    this.#key = compileTemplate(options.key, ['task']);
    this.#defaultTask = defaultTask;
  }

  get client(): RedisClient {
    if (!this.#client) {
      this.#client = createRedisClient(this.#options.connection);
      // Failures reach the runtime through put()'s rejection; keep ioredis from printing them.
      this.#client.on('error', () => undefined);
    }
    return this.#client;
  }

  keyOf(task: string): string {
    return this.#key.render({ task });
  }

  async put(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await connectRedis(this.client);
    const byTask = new Map<string, string[]>();
    for (const letter of letters) {
      const list = byTask.get(letter.task) ?? [];
      list.push(JSON.stringify(letter));
      byTask.set(letter.task, list);
    }
    // One task's letters go in one command, so a list never holds half of a put.
    const commands: (string | number)[][] = [];
    for (const [task, entries] of byTask) {
      const key = this.keyOf(task);
      commands.push(['rpush', key, ...entries]);
      if (this.#options.maxLength !== undefined) commands.push(['ltrim', key, -this.#options.maxLength, -1]);
      commands.push(['sadd', this.#options.tasksKey, task]);
    }
    for (const command of commands) {
      const [name, ...args] = command as [string, ...(string | number)[]];
      await this.client.call(name, ...args);
    }
  }

  async list(task: string | undefined = this.#defaultTask, limit?: number): Promise<DeadLetter[]> {
    await connectRedis(this.client);
    const tasks = task !== undefined ? [task] : await this.client.smembers(this.#options.tasksKey);
    const out: DeadLetter[] = [];
    for (const name of tasks) {
      const start = limit === undefined ? 0 : -limit;
      const entries = await this.client.lrange(this.keyOf(name), start, -1);
      for (const entry of entries) out.push(JSON.parse(entry) as DeadLetter);
    }
    if (tasks.length > 1) out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return limit === undefined ? out : out.slice(-limit);
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await closeRedisClient(client);
  }
}
