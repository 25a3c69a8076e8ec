// Where a task's dead letters go (the task's `deadLetter` option, docs/configuration.md): a store a
// plugin registered, another sink of the task, or a JSON-lines file (the default, in the dead-letter
// directory, one file per task).
import { join } from 'node:path';
import type { ResolvedTask } from '../config/index.ts';
import type { RowEvent } from '../event/index.ts';
import type { AppliedPipeline } from '../pipeline/index.ts';
import { FileDeadLetterStore, type DeadLetterStore } from '../dead-letter/index.ts';
import { ConfigError, SinkError } from '../errors/index.ts';
import type { Sink } from '../sink/index.ts';

export interface DeadLetterPlace {
  /** The directory of the default per-task files. */
  dir: string;
  /** The task's sinks, named in the error when `deadLetter.sink` is none of them. */
  sinkNames: readonly string[];
  /** What a dead letter written to a sink carries, like every other write of the task. */
  fence: { task: string; epoch: number };
}

/** The dead-letter store of a task, as its `deadLetter` option chooses. */
export function deadLetterStoreFor(config: ResolvedTask, pipeline: AppliedPipeline, place: DeadLetterPlace): DeadLetterStore {
  const task = place.fence.task;
  const taskFile = () => join(place.dir, `${task}.jsonl`);
  const choice = config.deadLetter;
  if (choice?.type === 'plugin' || (!choice && pipeline.deadLetterStore)) {
    if (!pipeline.deadLetterStore) {
      throw new ConfigError(`task "${task}": deadLetter.type is "plugin" but no plugin registered a dead-letter store`);
    }
    return pipeline.deadLetterStore;
  }
  if (choice?.type === 'sink') {
    const sink = pipeline.sinks.get(choice.sink);
    if (!sink) throw new ConfigError(`task "${task}": deadLetter.sink names "${choice.sink}", but the sinks are ${place.sinkNames.join(', ')}`);
    return sinkDeadLetterStore(choice.sink, sink, place.fence, new FileDeadLetterStore(taskFile()));
  }
  return new FileDeadLetterStore(choice?.type === 'file' ? choice.path : taskFile());
}

/**
 * Dead letters written to another sink of the task (e.g. an index of rejects), each event carrying
 * `deadLetter: {origin, reason, at}` beside its canonical fields; a record of them also goes to the
 * task's file so `tunnel dead-letters` lists them.
 */
function sinkDeadLetterStore(name: string, sink: Sink, fence: { task: string; epoch: number }, record: DeadLetterStore): DeadLetterStore {
  return {
    async put(letters) {
      const events: RowEvent[] = letters.map((l) => Object.assign({}, l.event, { deadLetter: { origin: l.origin, reason: l.reason, at: l.at } }));
      const results = await sink.write({ events, attempt: 1, signal: new AbortController().signal, ...fence });
      const failed = results.find((r) => r.status !== 'ok');
      if (failed) throw new SinkError(`dead-letter sink "${name}" refused: ${(failed as { reason: string }).reason}`);
      await record.put(letters);
    },
    list: (task, limit) => record.list(task, limit),
    close: () => record.close(),
  };
}
