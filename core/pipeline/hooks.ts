import { AsyncSeriesHook, HookMap, SyncBailHook, SyncHook, SyncWaterfallHook } from 'tapable';
import type { BinlogPosition, RowEvent, SchemaChangeEvent } from '../event/index.ts';
import type { DeliveryResult } from '../sink/index.ts';
import type { TunnelError } from '../errors/index.ts';

/**
 * The hooks of one task, declared once and named for the event's path (webpack's Compiler style).
 * The hook kind says what a tap may do:
 * - `filter`: a tap returns `false` to drop the event; any other answer (`true`, nothing) keeps it and
 *   the next filter runs, so no filter can keep an event from the filters after it;
 * - `transform` is a waterfall: each plugin returns the event the next one sees;
 * - `tableTransform` is a HookMap keyed by `schema.table`, so tables nobody tapped cost one lookup;
 * - `expand` is a waterfall over a list, for the rare plugin that must turn one event into several
 *   (e.g. a multi-row update of which some rows are soft deletes); untapped, it costs nothing;
 * - `route` is a waterfall over the sink names an event goes to (all sinks to start with); a plugin
 *   that names sinks declares them with `context.requireSinks`, so a wrong name fails validation.
 *
 * `taskStart` and `taskStop` take `tap`, `tapPromise` and `tapAsync`; a failure of any kind is a
 * PluginError naming the plugin. `batchWritten`, `positionCommitted` and `error` are observers: a tap
 * that throws there is logged under its plugin's name and changes nothing else (a broken metrics or
 * alerting plugin must not stall deliveries or commits).
 */
export class TunnelHooks {
  readonly filter = new SyncBailHook<[RowEvent], boolean | void>(['event']);
  readonly transform = new SyncWaterfallHook<[RowEvent]>(['event']);
  readonly tableTransform = new HookMap<SyncWaterfallHook<[RowEvent]>>(() => new SyncWaterfallHook(['event']));
  readonly expand = new SyncWaterfallHook<[RowEvent[]]>(['events']);
  readonly route = new SyncWaterfallHook<[string[], RowEvent]>(['sinks', 'event']);
  /**
   * A schema change (TRUNCATE, DROP, RENAME, ALTER, CREATE) of a followed table, at its place in the
   * stream, before the task's policy applies it to the sinks (docs/schema-changes.md). For plugins
   * that watch schema changes; a tap that throws stops the task before the statement.
   */
  readonly schemaChange = new SyncHook<[SchemaChangeEvent]>(['change']);

  /** After the sinks started and before the first event is read. */
  readonly taskStart = new AsyncSeriesHook<[TaskInfo]>(['task']);
  /** After the last batch was written and the last position committed. */
  readonly taskStop = new AsyncSeriesHook<[TaskInfo]>(['task']);
  /** Once a sink answered a batch (all results final: delivered or rejected). */
  readonly batchWritten = new SyncHook<[BatchWrittenInfo]>(['batch']);
  /** A position was committed to the position store. */
  readonly positionCommitted = new SyncHook<[BinlogPosition]>(['position']);
  /** Anything that went wrong in the task, recovered or not. */
  readonly error = new SyncHook<[TunnelError]>(['error']);
}

export interface TaskInfo {
  task: string;
}

export interface BatchWrittenInfo {
  task: string;
  sink: string;
  events: readonly RowEvent[];
  results: readonly DeliveryResult[];
  attempts: number;
  durationMs: number;
}
