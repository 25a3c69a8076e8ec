import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultNodeId } from '../../core/runtime/node-id.ts';

describe("a worker's default node id", () => {
  it('is host:port of its status endpoint when the port is fixed', () => {
    expect(defaultNodeId({ status: { host: '127.0.0.1', port: 8090 } })).toBe(`${hostname()}:8090`);
  });

  it('is host-pid when the endpoint is off or picks a free port, never host:0', () => {
    expect(defaultNodeId({ status: { host: '127.0.0.1', port: false } })).toBe(`${hostname()}-${process.pid}`);
    expect(defaultNodeId({ status: { host: '127.0.0.1', port: 0 } })).toBe(`${hostname()}-${process.pid}`);
  });
});
