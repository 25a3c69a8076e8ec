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
import { UNSIGNED_LONG_FALLBACK, columnMappings, type FieldMapping, type TypeMappingOptions } from './mapping.ts';

/** Mappings for field types a distribution may lack. */
const FALLBACKS: Record<string, FieldMapping> = { unsigned_long: UNSIGNED_LONG_FALLBACK };

type DescribeError = (error: unknown) => { status?: number; text: string };

export class IndexMappings {
  /** `index \0 column` of every column known to be mapped (by us or by whoever mapped it first). */
  readonly #mapped = new Set<string>();
  /** Indexes checked in this process: their current mapping is in #mapped. */
  readonly #known = new Set<string>();
  /** index -> the tables its `_meta.tunnel_tables` lists (which tables have documents there). */
  readonly #tables = new Map<string, Set<string>>();
  /** Field types the cluster turned out not to have (see FALLBACKS). */
  readonly #unsupported = new Set<string>();
  /** The `_meta` of each loaded index, kept so that recording a table does not drop the user's entries. */
  readonly #meta = new Map<string, Record<string, unknown>>();
  /** ColumnTypes objects already handled per index (a table map's object is shared by its events). */
  readonly #seen = new WeakMap<ColumnTypes, Set<string>>();

  constructor(
    private readonly client: () => Client,
    /** false: no type-derived mappings (ES's dynamic rules), only the table field and the table list. */
    private readonly options: TypeMappingOptions | false,
    private readonly describe: DescribeError,
    /** Extra fields every document of a shared index carries (the table field), with their mapping. */
    private readonly extraFields: Record<string, FieldMapping> = {},
    /** Told when an index refuses a mapping for good (the documents then meet ES's own rules). */
    private readonly warn: (message: string, detail: Record<string, unknown>) => void = () => {},
    /** Settings of the indices created here (the sink's `index.gc_deletes`); a template's other settings apply. */
    private readonly creationSettings: Record<string, unknown> | undefined = undefined,
  ) {}

  /**
   * Makes sure `index` maps every column of `types` and lists `table` in its `_meta.tunnel_tables`
   * (where DROP DATABASE finds a schema's tables); cheap when nothing is new.
   */
  async ensure(index: string, table: string, types: ColumnTypes | undefined, signal: AbortSignal): Promise<void> {
    if (types) {
      let indexes = this.#seen.get(types);
      if (indexes?.has(index)) return;
      const columns = this.options === false ? {} : columnMappings(types, this.options);
      await this.#ensure(index, { ...this.extraFields, ...columns }, signal);
      await this.#record(index, table, signal);
      if (!indexes) this.#seen.set(types, (indexes = new Set()));
      indexes.add(index);
      return;
    }
    if (!this.#tables.get(index)?.has(table)) {
      await this.#ensure(index, this.extraFields, signal);
      await this.#record(index, table, signal);
    }
  }

  /** Makes sure `index` maps these fields (those it maps already keep their mapping). */
  ensureFields(index: string, fields: Record<string, FieldMapping>, signal: AbortSignal): Promise<void> {
    return this.#ensure(index, fields, signal);
  }

  /** The indices (of those matching `pattern`) that list tables of `schema`, with those tables. */
  async tablesOfSchema(pattern: string, schema: string, signal: AbortSignal): Promise<Map<string, string[]>> {
    let response: Record<string, { mappings?: { _meta?: { tunnel_tables?: unknown } } }>;
    try {
      response = (await this.client().indices.getMapping({ index: pattern, allow_no_indices: true, ignore_unavailable: true }, { signal })) as never;
    } catch (error) {
      throw new SinkError(`elasticsearch: cannot read the mappings of "${pattern}": ${this.describe(error).text}`, { index: pattern });
    }
    const out = new Map<string, string[]>();
    for (const [index, entry] of Object.entries(response)) {
      const tables = entry.mappings?._meta?.tunnel_tables;
      if (!Array.isArray(tables)) continue;
      const ofSchema = tables.filter((t): t is string => typeof t === 'string' && t.startsWith(`${schema}.`)).map((t) => t.slice(schema.length + 1));
      if (ofSchema.length > 0) out.set(index, ofSchema);
    }
    return out;
  }

  async #record(index: string, table: string, signal: AbortSignal): Promise<void> {
    const tables = this.#tables.get(index) ?? new Set<string>();
    if (tables.has(table)) return;
    tables.add(table);
    try {
      await this.client().indices.putMapping({ index, _meta: { ...this.#meta.get(index), tunnel_tables: [...tables].sort() } } as never, { signal });
      this.#tables.set(index, tables);
    } catch (error) {
      tables.delete(table);
      throw new SinkError(`elasticsearch: cannot record table ${table} in the _meta of index "${index}": ${this.describe(error).text}`, {
        index,
        status: this.describe(error).status,
      });
    }
  }

  async #ensure(index: string, wanted: Record<string, FieldMapping>, signal: AbortSignal): Promise<void> {
    let missing = Object.keys(wanted).filter((column) => !this.#mapped.has(`${index}\u0000${column}`));
    if (missing.length === 0 && this.#known.has(index)) return;
    if (!this.#known.has(index)) {
      await this.#create(index, signal);
      await this.#load(index, signal);
      missing = missing.filter((column) => !this.#mapped.has(`${index}\u0000${column}`));
      if (missing.length === 0) return;
    }
    const properties = Object.fromEntries(missing.map((column) => [column, this.#supported(wanted[column]!)]));
    try {
      await this.client().indices.putMapping({ index, properties } as never, { signal });
    } catch (error) {
      const unknown = /mapper type \[(\w+)\] declared on field/.exec(this.describe(error).text)?.[1];
      if (unknown && FALLBACKS[unknown] && !this.#unsupported.has(unknown)) {
        // a distribution without that mapper (e.g. no unsigned-long module): use the fallback from now on
        this.#unsupported.add(unknown);
        this.warn(`elasticsearch: the cluster has no "${unknown}" field type; such columns are mapped as ${JSON.stringify(FALLBACKS[unknown])}`, { index });
        return this.#ensure(index, wanted, signal);
      }
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

  /** The mapping, with a fallback for a field type the cluster lacks. */
  #supported(mapping: FieldMapping): FieldMapping {
    const type = mapping.type;
    return typeof type === 'string' && this.#unsupported.has(type) ? (FALLBACKS[type] ?? mapping) : mapping;
  }

  async #create(index: string, signal: AbortSignal): Promise<void> {
    try {
      await this.client().indices.create({ index, ...(this.creationSettings ? { settings: this.creationSettings } : {}) }, { signal });
    } catch (error) {
      const { text } = this.describe(error);
      if (text.startsWith('resource_already_exists_exception')) return;
      throw new SinkError(`elasticsearch: cannot create index "${index}": ${text}`, { index, status: this.describe(error).status });
    }
  }

  /** Records every top-level field the index (or the indices behind an alias) maps now. */
  async #load(index: string, signal: AbortSignal): Promise<void> {
    let response: Record<string, { mappings?: { properties?: Record<string, unknown> } }>;
    try {
      response = (await this.client().indices.getMapping({ index }, { signal })) as never;
    } catch (error) {
      throw new SinkError(`elasticsearch: cannot read the mapping of index "${index}": ${this.describe(error).text}`, {
        index,
        status: this.describe(error).status,
      });
    }
    for (const entry of Object.values(response)) {
      for (const field of Object.keys(entry.mappings?.properties ?? {})) this.#mapped.add(`${index}\u0000${field}`);
      const meta = (entry.mappings as { _meta?: Record<string, unknown> } | undefined)?._meta;
      if (meta) {
        this.#meta.set(index, meta);
        const listed = Array.isArray(meta.tunnel_tables) ? meta.tunnel_tables.filter((t): t is string => typeof t === 'string') : [];
        const tables = this.#tables.get(index) ?? new Set<string>();
        for (const t of listed) tables.add(t);
        this.#tables.set(index, tables);
      }
    }
    this.#known.add(index);
  }
}
