// A sink of the team's own: one JSON line per changed row appended to a file, flushed to disk
// before the batch is acknowledged (so a committed position never runs ahead of the file).
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  acquireSharedSerializer,
  definePlugin,
  keyValues,
  rowBeforeImage,
  rowImage,
  type DeliveryResult,
  type Serializer,
  type Sink,
  type SinkBatch,
} from 'tunnel';

export interface AuditLogOptions {
  /** The sink's name, for routes and dead letters. */
  name?: string;
  file: string;
}

/** What one line of the file holds. */
export interface AuditLine {
  table: string;
  action: 'insert' | 'update' | 'delete';
  key: unknown[];
  /** The row after the change; for a delete, the row that was deleted. */
  row: Record<string, unknown>;
  position: string;
}

class AuditLogSink implements Sink {
  private file: FileHandle | undefined;
  // encodes large batches off the main thread, small ones inline
  private readonly serializer: Serializer = acquireSharedSerializer();

  constructor(private readonly path: string) {}

  async start(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    this.file = await open(this.path, 'a');
  }

  async write(batch: SinkBatch): Promise<DeliveryResult[]> {
    const lines: AuditLine[] = batch.events.flatMap((event) =>
      event.rows.map((_, i) => ({
        table: `${event.schema}.${event.table}`,
        action: event.action,
        key: keyValues(event, i, event.action === 'delete' ? 'before' : 'after'),
        row: event.action === 'delete' ? rowBeforeImage(event, i) : rowImage(event, i),
        position: `${event.position.file}:${event.position.offset}`,
      })),
    );
    const body = await this.serializer.encodeNdjson(lines);
    await this.file!.write(body);
    await this.file!.datasync();
    return batch.events.map(() => ({ status: 'ok' }));
  }

  async close(): Promise<void> {
    await this.file?.close();
    await this.serializer.close();
  }
}

/** `plugins: [auditLog({ file: 'audit/changes.ndjson' })]` */
export function auditLog(options: AuditLogOptions) {
  const name = options.name ?? 'audit-log';
  const sink = new AuditLogSink(options.file);
  return definePlugin({
    name: `sink:${name}`,
    apply(_hooks, context) {
      context.registerSink(name, sink);
    },
  });
}
