/**
 * The GTID state of a binlog position: which transactions the binlog holds before it, in the form
 * the server itself uses, so that a task can resume on any server of the replication topology.
 *
 * - MariaDB: the last GTID of each replication domain, `domain-server-seq` joined by commas
 *   (`0-1-100,1-2-5`), as gtid_slave_pos and @slave_connect_state take it. Within a domain the binlog
 *   order is total, so the last GTID names every transaction of the domain before it.
 * - MySQL: a GTID set, `uuid:interval[:interval...]` per source joined by commas
 *   (`3e11fa47-...:1-100:105`), as gtid_executed and COM_BINLOG_DUMP_GTID take it (tags of MySQL 8.3+
 *   too: `uuid:1-5:tag:1-3`).
 *
 * A source adds the GTID of every transaction at its commit and writes the text into each commit
 * position, so the text form is cached and rebuilt only for what changed.
 */
import { PositionFormatError } from '../errors/index.ts';

export type GtidFlavor = 'mariadb' | 'mysql';

export interface GtidState {
  readonly flavor: GtidFlavor;
  /** Adds one transaction, as its GTID event names it (`0-1-100`, `uuid:42`). */
  add(gtid: string): void;
  /** The server's text form; '' when empty. */
  toString(): string;
  /**
   * What of this state `other` (a server's executed state) lacks, as text, or undefined when it has
   * all of it. MariaDB compares per domain: a domain the server lacks, or whose last sequence number
   * there is lower.
   */
  missingFrom(other: GtidState): string | undefined;
  copy(): GtidState;
  readonly empty: boolean;
}

/** Parses a GTID state of `flavor`; a malformed text is a PositionFormatError naming `what`. */
export function parseGtidState(flavor: GtidFlavor, text: string, what = 'GTID set'): GtidState {
  return flavor === 'mariadb' ? MariadbGtidState.parse(text, what) : MysqlGtidSet.parse(text, what);
}

/** The flavor a non-empty GTID state text is written in (a MySQL set has ':', a MariaDB position never). */
export function gtidFlavorOf(text: string): GtidFlavor | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  return trimmed.includes(':') ? 'mysql' : 'mariadb';
}

function bad(what: string, text: string, expected: string): PositionFormatError {
  const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return new PositionFormatError(`${what} must be ${expected}, got ${JSON.stringify(shown)}`);
}

// ------------------------------------------------------------------------------------------------
// MariaDB

interface DomainGtid {
  server: number;
  seq: bigint;
}

class MariadbGtidState implements GtidState {
  readonly flavor = 'mariadb';
  private text: string | undefined = '';

  private constructor(private readonly domains: Map<number, DomainGtid>) {}

  static parse(text: string, what: string): MariadbGtidState {
    const domains = new Map<number, DomainGtid>();
    const trimmed = text.trim();
    if (trimmed !== '') {
      for (const part of trimmed.split(',')) {
        const match = /^\s*(\d{1,10})-(\d{1,10})-(\d{1,20})\s*$/.exec(part);
        if (!match) throw bad(what, text, 'a MariaDB GTID position: domain-server-seq joined by commas (e.g. 0-1-100,1-2-5)');
        const domain = Number(match[1]);
        if (domains.has(domain)) throw bad(what, text, 'one GTID per replication domain');
        domains.set(domain, { server: Number(match[2]), seq: BigInt(match[3]!) });
      }
    }
    const state = new MariadbGtidState(domains);
    state.text = undefined;
    return state;
  }

  get empty(): boolean {
    return this.domains.size === 0;
  }

  add(gtid: string): void {
    const first = gtid.indexOf('-');
    const second = gtid.indexOf('-', first + 1);
    if (first <= 0 || second <= first + 1) throw bad('a MariaDB GTID', gtid, 'domain-server-seq');
    const domain = Number(gtid.slice(0, first));
    // the binlog order is total within a domain: the newest transaction names everything before it
    this.domains.set(domain, { server: Number(gtid.slice(first + 1, second)), seq: BigInt(gtid.slice(second + 1)) });
    this.text = undefined;
  }

  toString(): string {
    if (this.text === undefined) {
      const parts: string[] = [];
      for (const domain of [...this.domains.keys()].sort((a, b) => a - b)) {
        const g = this.domains.get(domain)!;
        parts.push(`${domain}-${g.server}-${g.seq}`);
      }
      this.text = parts.join(',');
    }
    return this.text;
  }

  missingFrom(other: GtidState): string | undefined {
    if (!(other instanceof MariadbGtidState)) return this.toString() || undefined;
    const missing: string[] = [];
    for (const [domain, g] of this.domains) {
      const there = other.domains.get(domain);
      if (!there || there.seq < g.seq) missing.push(`${domain}-${g.server}-${g.seq}`);
    }
    return missing.length > 0 ? missing.join(',') : undefined;
  }

  copy(): GtidState {
    return MariadbGtidState.parse(this.toString(), 'GTID position');
  }
}

// ------------------------------------------------------------------------------------------------
// MySQL

/** Inclusive [start, end] transaction numbers, sorted and merged. */
type Intervals = Array<[number, number]>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TAG = /^[a-z_][a-z0-9_]{0,31}$/;

class MysqlGtidSet implements GtidState {
  readonly flavor = 'mysql';
  /** `uuid` or `uuid:tag` -> intervals. */
  private readonly sources = new Map<string, Intervals>();
  /** Text of each uuid's block, rebuilt only for the uuid that changed. */
  private readonly blocks = new Map<string, string>();
  private text: string | undefined = '';

  static parse(text: string, what: string): MysqlGtidSet {
    const set = new MysqlGtidSet();
    const compact = text.replace(/\s+/g, '');
    if (compact === '') return set;
    const expected = 'a MySQL GTID set: uuid:interval[:interval...] joined by commas (e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11)';
    for (const entry of compact.split(',')) {
      const items = entry.split(':');
      const uuid = items[0]!.toLowerCase();
      if (!UUID.test(uuid) || items.length < 2) throw bad(what, text, expected);
      let source = uuid;
      let intervals = 0;
      for (const item of items.slice(1)) {
        if (TAG.test(item.toLowerCase())) {
          source = `${uuid}:${item.toLowerCase()}`;
          continue;
        }
        const range = /^(\d{1,16})(?:-(\d{1,16}))?$/.exec(item);
        if (!range) throw bad(what, text, expected);
        const start = Number(range[1]);
        const end = range[2] === undefined ? start : Number(range[2]);
        if (start < 1 || end < start || !Number.isSafeInteger(end)) throw bad(what, text, expected);
        set.addRange(source, start, end);
        intervals++;
      }
      if (intervals === 0) throw bad(what, text, expected);
    }
    return set;
  }

  get empty(): boolean {
    return this.sources.size === 0;
  }

  add(gtid: string): void {
    const colon = gtid.lastIndexOf(':');
    const gno = Number(gtid.slice(colon + 1));
    const source = gtid.slice(0, colon).toLowerCase();
    if (colon <= 0 || !Number.isSafeInteger(gno) || gno < 1) throw bad('a MySQL GTID', gtid, 'uuid:number');
    this.addRange(source, gno, gno);
  }

  private addRange(source: string, start: number, end: number): void {
    let intervals = this.sources.get(source);
    if (!intervals) this.sources.set(source, (intervals = []));
    const last = intervals[intervals.length - 1];
    if (last && start >= last[0] && start <= last[1] + 1) {
      // the common case: the next transaction of the newest interval
      if (end > last[1]) last[1] = end;
    } else if (!last || start > last[1] + 1) {
      intervals.push([start, end]);
    } else {
      intervals.push([start, end]);
      intervals.sort((a, b) => a[0] - b[0]);
      const merged: Intervals = [];
      for (const next of intervals) {
        const top = merged[merged.length - 1];
        if (top && next[0] <= top[1] + 1) top[1] = Math.max(top[1], next[1]);
        else merged.push([next[0], next[1]]);
      }
      intervals.splice(0, intervals.length, ...merged);
    }
    this.blocks.delete(source.slice(0, 36));
    this.text = undefined;
  }

  private block(uuid: string): string {
    let text = this.blocks.get(uuid);
    if (text === undefined) {
      const ranges = (intervals: Intervals) => intervals.map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`)).join(':');
      const own = this.sources.get(uuid);
      text = own && own.length > 0 ? `${uuid}:${ranges(own)}` : uuid;
      const tags = [...this.sources.keys()].filter((k) => k.length > 37 && k.startsWith(`${uuid}:`)).sort();
      for (const tag of tags) text += `:${tag.slice(37)}:${ranges(this.sources.get(tag)!)}`;
      this.blocks.set(uuid, text);
    }
    return text;
  }

  toString(): string {
    if (this.text === undefined) {
      const uuids = [...new Set([...this.sources.keys()].map((k) => k.slice(0, 36)))].sort();
      this.text = uuids.map((uuid) => this.block(uuid)).join(',');
    }
    return this.text;
  }

  missingFrom(other: GtidState): string | undefined {
    if (!(other instanceof MysqlGtidSet)) return this.toString() || undefined;
    const missing = new MysqlGtidSet();
    for (const [source, intervals] of this.sources) {
      const theirs = other.sources.get(source) ?? [];
      for (const [start, end] of intervals) {
        let from = start;
        for (const [s, e] of theirs) {
          if (e < from) continue;
          if (s > end) break;
          if (s > from) missing.addRange(source, from, s - 1);
          from = Math.max(from, e + 1);
          if (from > end) break;
        }
        if (from <= end) missing.addRange(source, from, end);
      }
    }
    return missing.empty ? undefined : missing.toString();
  }

  copy(): GtidState {
    return MysqlGtidSet.parse(this.toString(), 'GTID set');
  }
}
