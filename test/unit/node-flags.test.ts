import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shebangNodeFlags, WORKER_NODE_FLAGS } from '../helpers/node-flags.ts';

const root = resolve(import.meta.dirname, '../..');

describe("the worker's Node flags", () => {
  it('the source runner (bin/tunnel.js) starts with the same flags as the package bin (bin/tunnel.ts)', () => {
    expect(shebangNodeFlags(resolve(root, 'bin/tunnel.js'))).toEqual(WORKER_NODE_FLAGS);
    expect(WORKER_NODE_FLAGS).toContain('--max-semi-space-size=16');
  });

  it('the shebang is one that env can run with flags (env -S)', () => {
    for (const file of ['bin/tunnel.js', 'bin/tunnel.ts']) {
      expect(readFileSync(resolve(root, file), 'utf8').split('\n', 1)[0]).toMatch(/^#!\/usr\/bin\/env -S node /);
    }
  });
});
