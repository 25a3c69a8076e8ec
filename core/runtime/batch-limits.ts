import { warnRenamedKey } from '../config/deprecation.ts';
import type { BatchLimits, Sink } from '../sink/index.ts';

/** The limits of a batch when neither the task's `batch` nor the sink says otherwise. */
export const DEFAULT_BATCH_LIMITS: Readonly<BatchLimits> = Object.freeze({ maxRows: 2000, maxBytes: 8 * 1024 * 1024, maxWaitMs: 50 });

/**
 * The limits one sink's batches run with, field by field: the task's `batch` where the user set the
 * field, else the sink's own `batchLimits` (the built-in sinks fill them from their options, e.g. a
 * bulk request's size), else DEFAULT_BATCH_LIMITS.
 */
export function batchLimitsFor(taskBatch: Readonly<Partial<BatchLimits>>, sink: Pick<Sink, 'batchLimits'>): BatchLimits {
  let own = sink.batchLimits ?? {};
  if (own.maxEvents !== undefined) {
    warnRenamedKey('batchLimits.maxEvents', 'batchLimits.maxRows', 'it counts row changes');
    own = { ...own, maxRows: own.maxRows ?? own.maxEvents };
  }
  const pick = <K extends keyof BatchLimits>(key: K): BatchLimits[K] => taskBatch[key] ?? own[key] ?? DEFAULT_BATCH_LIMITS[key];
  return { maxRows: pick('maxRows'), maxBytes: pick('maxBytes'), maxWaitMs: pick('maxWaitMs') };
}
