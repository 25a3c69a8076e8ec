import { z } from 'zod';
import { batchLimitsSchema } from './schema.ts';

const positiveInt = z.number().int().positive();

/** A sink's `serialize` option: false keeps payloads on the main thread; otherwise pool settings. */
export const serializeOptionSchema = z
  .union([
    z.literal(false),
    z
      .object({ threshold: z.number().nonnegative().optional(), minItemBytes: z.number().nonnegative().optional(), maxThreads: positiveInt.optional() })
      .strict(),
  ])
  .optional();

/** A sink's `batch` option: the limits it asks of the runtime (a field the task's `batch` config sets wins). */
export const sinkBatchOptionSchema = batchLimitsSchema.optional();
