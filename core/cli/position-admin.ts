import type { ResolvedConfig } from '../config/index.ts';
import { FilePositionStore, type StoredPosition } from '../checkpoint/index.ts';
import type { BinlogPosition } from '../event/index.ts';

/** Read, reset and check the running state of task positions, in files or in ZooKeeper. */
export interface PositionAdmin {
  read(task: string): Promise<StoredPosition | undefined>;
  isRunning(task: string): Promise<boolean>;
  reset(task: string, position: BinlogPosition | null): Promise<void>;
  close(): Promise<void>;
}

export async function openPositionAdmin(config: ResolvedConfig): Promise<PositionAdmin> {
  if (config.cluster) {
    // Positions live in ZooKeeper; a task runs wherever its owner node is held.
    const { ZooKeeperPositionAdmin, registryConnectOptions } = await import('../cluster/index.ts');
    const zk = await ZooKeeperPositionAdmin.connect(registryConnectOptions(config.cluster));
    return {
      read: async (task) => (await zk.readPosition(task)).stored,
      isRunning: async (task) => (await zk.readPosition(task)).owner !== undefined,
      reset: async (task, position) => void (await zk.resetPosition(task, position)),
      close: () => zk.close(),
    };
  }
  const store = new FilePositionStore(config.positions.dir);
  return {
    read: (task) => store.load(task),
    // Standalone: a running worker answers on its status endpoint.
    isRunning: async (task) => {
      if (config.status.port === false || config.status.port === 0) return false;
      try {
        const response = await fetch(`http://${config.status.host}:${config.status.port}/api/status`, {
          signal: AbortSignal.timeout(1000),
          headers: config.status.token ? { authorization: `Bearer ${config.status.token}` } : {},
        });
        const body = (await response.json()) as { tasks?: Array<{ name: string; state: string }> };
        return body.tasks?.some((t) => t.name === task && t.state !== 'stopped' && t.state !== 'failed' && t.state !== 'idle') ?? false;
      } catch {
        return false;
      }
    },
    reset: async (task, position) => {
      if (position) await store.save(task, { position, updatedAt: Date.now() });
      else await store.clear(task);
    },
    close: () => store.close(),
  };
}
