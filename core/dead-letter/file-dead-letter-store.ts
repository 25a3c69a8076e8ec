import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeadLetter, DeadLetterStore } from './dead-letter.ts';

/** Dead letters as JSON lines appended (and fsynced by the OS on close) to one file per task. */
export class FileDeadLetterStore implements DeadLetterStore {
  constructor(private readonly path: string) {}

  async put(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, letters.map((letter) => `${JSON.stringify(letter)}\n`).join(''));
  }

  async list(task?: string, limit = 100): Promise<DeadLetter[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const letters = text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => JSON.parse(line) as DeadLetter)
      .filter((letter) => task === undefined || letter.task === task);
    return letters.slice(-limit);
  }

  async close(): Promise<void> {}
}
