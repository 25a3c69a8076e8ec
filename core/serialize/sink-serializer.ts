import { acquireSharedSerializer, createSerializer, type Serializer, type SerializerOptions, type SerializerStats } from './serializer.ts';

/** A sink's `serialize` option: absent shares the process's pool, `false` stays on the main thread, settings make a pool of its own. */
export type SerializeOption = false | SerializerOptions | undefined;

/**
 * The serializer a sink's `serialize` option asks for, made on first use (a sink that is only
 * validated, never started, holds no handle on the shared pool) and released by `close()`.
 */
export class SinkSerializer {
  #serializer: Serializer | undefined;

  constructor(private readonly option: SerializeOption) {}

  get(): Serializer {
    const option = this.option;
    this.#serializer ??=
      option === undefined ? acquireSharedSerializer() : option === false ? createSerializer({ threshold: Infinity }) : createSerializer(option);
    return this.#serializer;
  }

  /** How many bodies were encoded where; undefined before the first. */
  stats(): SerializerStats | undefined {
    return this.#serializer?.stats();
  }

  async close(): Promise<void> {
    const serializer = this.#serializer;
    this.#serializer = undefined;
    await serializer?.close();
  }
}
