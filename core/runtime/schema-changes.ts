/**
 * What a task does with a schema change (docs/schema-changes.md): the `schemaChange` hook, then the
 * task's policy: `ignore` (a warning), `stop` (the task stops before the statement), `propagate`
 * (every sink applies it, in its place between the row batches) or a resync (the sinks drop the
 * table and it is read again while the source waits at the statement).
 *
 * The statement's commit waits for all of it: every sink's schema delivery is counted on the
 * statement's segment, and a resync holds the segment until the re-read rows are acknowledged.
 * A statement that changes several tables (`RENAME TABLE a TO b, b TO c`) is applied change by
 * change; what each sink has applied is saved with the position, so after a crash no sink applies a
 * change of it twice (a swap applied twice would move rows back).
 */
import type { Logger } from 'pino';
import type { ResolvedTask } from '../config/index.ts';
import { comparePositions, samePosition, type BinlogPosition, type SchemaChangeEvent, type TableName } from '../event/index.ts';
import type { Segment, SchemaChangeProgress } from '../checkpoint/index.ts';
import { PluginError, SchemaChangeError } from '../errors/index.ts';
import type { TunnelHooks } from '../pipeline/index.ts';
import type { DeliveryResult } from '../sink/index.ts';
import type { SchemaDelivery, SinkDispatcher } from './sink-dispatcher.ts';

type Policy = 'propagate' | 'resync' | 'ignore' | 'stop';

/** What the schema-change handling needs from its task. */
export interface SchemaChangeHost {
  readonly name: string;
  readonly config: ResolvedTask;
  readonly logger: Logger;
  readonly hooks: TunnelHooks;
  readonly dispatchers: ReadonlyMap<string, SinkDispatcher>;
  fail(error: Error): void;
  /** Keeps the source from reading on until `release` (on top of back-pressure). */
  holdSource(): void;
  releaseSource(): void;
  /** A delivery on `segment` is final. */
  acknowledge(segment: Segment): void;
  /** Saves the progress of a statement's changes with the committed position. */
  saveProgress(progress: SchemaChangeProgress | undefined): Promise<void>;
  /** Reads a table again (core/snapshot/table-resync.ts); undefined when the task cannot. */
  resync?: (table: TableName, position: BinlogPosition) => Promise<number>;
}

export interface SchemaChangeStats {
  applied: number;
  ignored: number;
  resyncs: number;
}

export class SchemaChanges {
  readonly stats: SchemaChangeStats = { applied: 0, ignored: 0, resyncs: 0 };
  /** The statement in progress: its position and the changes each sink has applied. */
  private progress: SchemaChangeProgress | undefined;

  constructor(
    private readonly host: SchemaChangeHost,
    /** What was saved before a restart: changes of that statement already applied, per sink. */
    private resumed: SchemaChangeProgress | undefined,
  ) {}

  /** The progress to save with the position, until the statement's commit is stored. */
  get pending(): SchemaChangeProgress | undefined {
    return this.progress;
  }

  /** The statement's commit was stored: its progress is no longer needed. */
  committedPast(position: BinlogPosition): void {
    if (this.progress && !samePosition(this.progress.at, position) && this.isBefore(this.progress.at, position)) this.progress = undefined;
  }

  /** A schema change from the source, at its place; `segment` is its statement's. */
  accept(change: SchemaChangeEvent, segment: Segment): void {
    const { host } = this;
    try {
      host.hooks.schemaChange.call(change);
    } catch (error) {
      host.fail(error instanceof PluginError ? error : new PluginError('(unknown)', 'schemaChange', host.name, error, { position: change.position }));
      return;
    }
    const table = `${change.schema}.${change.table}`;
    const policy = this.policyOf(change);
    const detail = { change: change.change, table, ...(change.to ? { to: `${change.to.schema}.${change.to.table}` } : {}), statement: change.statement };
    if (policy === 'ignore') {
      this.stats.ignored++;
      host.logger.warn(detail, 'schema change ignored by policy: the sinks keep what they hold of the table');
      return;
    }
    if (policy === 'stop') {
      host.fail(
        new SchemaChangeError(
          `task "${host.name}" stops at ${change.change.toUpperCase()} of ${table} (policy "stop"): its position stays before the statement; ` +
            `change schemaChanges.${this.policyKey(change)} to go on`,
          detail,
        ),
      );
      return;
    }
    const resyncTable = this.resyncTarget(change, policy);
    if (resyncTable) {
      this.resync(change, resyncTable, segment);
      return;
    }
    this.dispatch(change, segment);
  }

  private policyKey(change: SchemaChangeEvent): 'truncate' | 'drop' | 'rename' | 'alter' {
    switch (change.change) {
      case 'truncate':
        return 'truncate';
      case 'drop':
      case 'drop-database':
        return 'drop';
      case 'rename':
        return 'rename';
      default:
        return 'alter';
    }
  }

  private policyOf(change: SchemaChangeEvent): Policy {
    if (change.change === 'create') return 'propagate';
    return this.host.config.schemaChanges[this.policyKey(change)];
  }

  /** The table to read again, when applying the change alone cannot leave the sinks equal to it. */
  private resyncTarget(change: SchemaChangeEvent, policy: Policy): TableName | undefined {
    if (change.change === 'rename' && change.untrackedSource) return change.to;
    if (change.change === 'alter' && (policy === 'resync' || change.rowsChangedOutsideBinlog)) return change;
    return undefined;
  }

  /** Every sink gets the change in its queue, unless it applied it before a restart. */
  private dispatch(change: SchemaChangeEvent, segment: Segment): void {
    const { host } = this;
    const resumed = this.resumed && samePosition(this.resumed.at, change.position) ? this.resumed : undefined;
    if (!this.progress || !samePosition(this.progress.at, change.position)) this.progress = { at: change.position, applied: { ...resumed?.applied } };
    for (const [name, dispatcher] of host.dispatchers) {
      if ((resumed?.applied[name] ?? 0) > change.index) continue;
      segment.pending++;
      dispatcher.enqueueSchemaChange({ change, segment });
    }
  }

  /** A sink's final word on a change. */
  settled(sink: string, delivery: SchemaDelivery, result: DeliveryResult | undefined): void {
    const { host } = this;
    const { change } = delivery;
    if (result?.status === 'rejected') {
      host.fail(
        new SchemaChangeError(
          `sink "${sink}" cannot apply ${change.change.toUpperCase()} of ${change.schema}.${change.table}: ${result.reason}; ` +
            `the task stops before the statement (set schemaChanges.${this.policyKey(change)} to "ignore" to go on without it)`,
          { sink, change: change.change, table: `${change.schema}.${change.table}` },
        ),
      );
      return;
    }
    this.stats.applied++;
    const progress = this.progress;
    const save =
      progress && samePosition(progress.at, change.position) ? ((progress.applied[sink] = change.index + 1), host.saveProgress(progress)) : Promise.resolve();
    // the statement's commit waits until the progress is stored (its save failing stops the task)
    void save.then(
      () => host.acknowledge(delivery.segment),
      (error: unknown) => host.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  /**
   * The sinks drop what they hold under the table's name, then the table is read again while the
   * source waits here; the statement's commit waits for the re-read rows.
   */
  private resync(change: SchemaChangeEvent, table: TableName, segment: Segment): void {
    const { host } = this;
    if (!host.resync) {
      host.fail(
        new SchemaChangeError(
          `task "${host.name}" would read ${table.schema}.${table.table} again after ${change.change.toUpperCase()}, but it has no snapshot reader`,
        ),
      );
      return;
    }
    this.stats.resyncs++;
    host.logger.warn(
      { change: change.change, table: `${table.schema}.${table.table}`, statement: change.statement },
      'schema change: the sinks drop the table and it is read again (a resync); searches see it partly filled meanwhile',
    );
    this.dispatch({ ...change, change: 'truncate', schema: table.schema, table: table.table }, segment);
    host.holdSource();
    segment.pending++;
    const resync = host.resync;
    void resync(table, change.position).then(
      (rows) => {
        host.logger.info({ table: `${table.schema}.${table.table}`, rows }, 'resync done; the stream goes on');
        host.acknowledge(segment);
        host.releaseSource();
      },
      (error: unknown) => host.fail(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private isBefore(a: BinlogPosition, b: BinlogPosition): boolean {
    return comparePositions(a, b) <= 0;
  }
}
