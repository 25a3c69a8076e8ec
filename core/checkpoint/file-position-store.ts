import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeStoredPosition, encodeStoredPosition } from './position-format.ts';
import type { PositionStore, StoredPosition } from './position-store.ts';

/**
 * Standalone positions: one JSON file per task, replaced atomically (write a temporary file,
 * fsync it, rename over the old one, fsync the folder), so a crash leaves the old or the new
 * position, never a torn one.
 */
export class FilePositionStore implements PositionStore {
  /** The last save of each task: saves of one task run one after another, in call order. */
  private readonly saving = new Map<string, Promise<void>>();

  constructor(private readonly dir: string) {}

  private fileOf(task: string): string {
    return join(this.dir, `${task}.json`);
  }

  async load(task: string): Promise<StoredPosition | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.fileOf(task));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return decodeStoredPosition(bytes, this.fileOf(task));
  }

  /** Saves of one task are applied in call order (they share one temporary file); the last one wins. */
  save(task: string, stored: StoredPosition): Promise<void> {
    const previous = this.saving.get(task) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.write(task, stored));
    this.saving.set(task, next);
    void next
      .finally(() => {
        if (this.saving.get(task) === next) this.saving.delete(task);
      })
      .catch(() => undefined);
    return next;
  }

  private async write(task: string, stored: StoredPosition): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = this.fileOf(task);
    const temporary = `${target}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(encodeStoredPosition(stored));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, target);
    const folder = await open(this.dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }

  async clear(task: string): Promise<void> {
    await rm(this.fileOf(task), { force: true });
  }

  async list(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((name) => name.endsWith('.json')).map((name) => name.slice(0, -5));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async close(): Promise<void> {}
}
