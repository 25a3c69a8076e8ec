import { hostname } from 'node:os';
import type { ResolvedConfig } from '../config/index.ts';

/**
 * This worker's id in its group when the config sets no `cluster.node`: `host:port` of its status
 * endpoint, the address the other workers and `tunnel status` reach it at. Without a fixed port (the
 * endpoint is off, or port 0 picks a free one at start) it is `host-pid`: an id of the `host:0` form
 * would be the same for every such worker of a host (the second could never register) and would look
 * like an address that reaches nothing.
 */
export function defaultNodeId(config: Pick<ResolvedConfig, 'status'>): string {
  return config.status.port ? `${hostname()}:${config.status.port}` : `${hostname()}-${process.pid}`;
}
