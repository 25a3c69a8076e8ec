/**
 * A JSON document as the text the source read, parsed into its value only when something needs the
 * value. MariaDB keeps a JSON column as text (LONGTEXT CHECK (json_valid(...))); its value by the
 * value rules (core/event/value-rules.ts) is the parsed document, integers beyond 2^53 as strings.
 *
 * Only an event's decoded values (row-values.ts) hold JsonText. Whatever reads them through the
 * event's API — the cells a plugin sees, row images, keys, `rowBlocks` — gets the parsed value; a
 * sink that encodes from `rowBlocks(event, { json: 'text' })` may meet one (`valueOf` gives its
 * value). JSON.stringify of a JsonText writes its value (`toJSON`).
 */
import type { ColumnValue } from './event.ts';

export class JsonText {
  #value: ColumnValue | undefined;
  #parsed = false;

  /** `parse` gives the value of a text (the column's reader: it decides what unparseable text is). */
  constructor(
    readonly text: string,
    private readonly parse: (text: string) => ColumnValue,
  ) {}

  /** The document's value (parsed once). */
  get value(): ColumnValue {
    if (!this.#parsed) {
      this.#value = this.parse(this.text);
      this.#parsed = true;
    }
    return this.#value as ColumnValue;
  }

  toJSON(): ColumnValue {
    return this.value;
  }
}

/** A decoded value or a JSON document not parsed yet. */
export type StoredValue = ColumnValue | JsonText;

/** The value of a stored value: a JsonText parsed, anything else as it is. */
export function valueOf(stored: StoredValue | undefined): ColumnValue | undefined {
  return stored instanceof JsonText ? stored.value : stored;
}
