/**
 * Puts the type-derived mappings (mapping.ts) on an index before the first document of a table is
 * written to it, and again before the first document after the table gained columns (ALTER ... ADD):
 * the index is created when missing (so the user's index templates apply first), then every column
 * the index does not map yet is added with `PUT _mapping`. Fields the index already maps (from the
 * user's `indices`, a template, or an earlier run) are left as they are: the user's choices win.
 */
import type { Client } from '@elastic/elasticsearch';
import type { ColumnTypes } from '../../core/event/index.ts';
import { SinkError } from '../../core/errors/index.ts';
import { columnMappings, type FieldMapping, type TypeMappingOptions } from './mapping.ts';

type DescribeError = (error: unknown) => { status?: number; text: string };

export class IndexMappings {
  /** `index \0 column` of every column known to be mapped (by us or by whoever mapped it first). */
  readonly #mapped = new Set<string>();
  /** Indexes checked in this process: their current mapping is in #mapped. */
  readonly #known = new Set<string>();
  /** ColumnTypes objects already handled per index (a table map's object is shared by its events). */
  readonly #seen = new WeakMap<ColumnTypes, Set<string>>();

  constructor(
    private readonly client: () => Client,
    private readonly options: TypeMappingOptions,
    private readonly describe: DescribeError,
    /** Extra fields every document of a shared index carries (the table field), with their mapping. */
    private readonly extraFields: Record<string, FieldMapping> = {},
    /** Told when an index refuses a mapping for good (the documents then meet ES's own rules). */
    private readonly warn: (message: string, detail: Record<string, unknown>) => void = () => {},
  ) {}

  /** Makes sure `index` maps every column of `types`; cheap when nothing is new. */
  async ensure(index: string, types: ColumnTypes | undefined, signal: AbortSignal): Promise<void> {
    if (types) {
      let indexes = this.#seen.get(types);
      if (indexes?.has(index)) return;
      await this.#ensure(index, { ...this.extraFields, ...columnMappings(types, this.options) }, signal);
      if (!indexes) this.#seen.set(types, (indexes = new Set()));
      indexes.add(index);
      return;
    }
    if (Object.keys(this.extraFields).length > 0 && !this.#known.has(index)) await this.#ensure(index, this.extraFields, signal);
  }

  async #ensure(index: string, wanted: Record<string, FieldMapping>, signal: AbortSignal): Promise<void> {
    let missing = Object.keys(wanted).filter((column) => !this.#mapped.has(`${index}\u0000${column}`));
    if (missing.length === 0) return;
    if (!this.#known.has(index)) {
      await this.#create(index, signal);
      await this.#load(index, signal);
      missing = missing.filter((column) => !this.#mapped.has(`${index}\u0000${column}`));
      if (missing.length === 0) return;
    }
    const properties = Object.fromEntries(missing.map((column) => [column, wanted[column]!]));
    try {
      await this.client().indices.putMapping({ index, properties } as never, { signal });
    } catch (error) {
      // another writer (dynamic mapping of a concurrent document, another worker) mapped one of them
      // first: read what is there now and add only what is still missing
      await this.#load(index, signal);
      const still = missing.filter((column) => !this.#mapped.has(`${index}\u0000${column}`));
      if (still.length === 0) return;
      try {
        await this.client().indices.putMapping({ index, properties: Object.fromEntries(still.map((c) => [c, wanted[c]!])) } as never, { signal });
      } catch (again) {
        const { status, text } = this.describe(again);
        if (status === undefined || status === 429 || status >= 500) {
          throw new SinkError(`elasticsearch: cannot put the mapping of ${still.join(', ')} on index "${index}": ${text}`, { index });
        }
        // refused for good (the index maps a field otherwise, a setting forbids it): say so once and
        // write on; a document the index then refuses is dead-lettered with ES's reason
        this.warn('elasticsearch: the index refused the type-derived mapping of some columns; they are left to the index', {
          index,
          columns: still,
          reason: text,
          firstReason: this.describe(error).text,
        });
      }
    }
    for (const column of missing) this.#mapped.add(`${index}\u0000${column}`);
  }

  async #create(index: string, signal: AbortSignal): Promise<void> {
    try {
      await this.client().indices.create({ index }, { signal });
    } catch (error) {
      const { text } = this.describe(error);
      if (text.startsWith('resource_already_exists_exception')) return;
      throw new SinkError(`elasticsearch: cannot create index "${index}": ${text}`, { index });
    }
  }

  /** Records every top-level field the index (or the indices behind an alias) maps now. */
  async #load(index: string, signal: AbortSignal): Promise<void> {
    let response: Record<string, { mappings?: { properties?: Record<string, unknown> } }>;
    try {
      response = (await this.client().indices.getMapping({ index }, { signal })) as never;
    } catch (error) {
      throw new SinkError(`elasticsearch: cannot read the mapping of index "${index}": ${this.describe(error).text}`, { index });
    }
    for (const entry of Object.values(response)) {
      for (const field of Object.keys(entry.mappings?.properties ?? {})) this.#mapped.add(`${index}\u0000${field}`);
    }
    this.#known.add(index);
  }
}
