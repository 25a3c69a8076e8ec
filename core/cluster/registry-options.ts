import type { ResolvedConfig } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import type { ZkAuth } from './zk-protocol.ts';

/** Where a group's registry is: the ZooKeeper ensemble and credentials, the cluster and group names. */
export interface RegistryConnectOptions {
  /** ZooKeeper connect string `host:port[,host:port...][/chroot]`. */
  connect: string;
  cluster: string;
  group: string;
  /** Digest credentials (authenticate and put digest ACLs on created nodes). */
  auth?: ZkAuth;
  /** Requested ZooKeeper session timeout. Default 10 000 ms. */
  sessionTimeoutMs?: number;
  logger?: Logger;
}

/** The registry a config's `cluster` section names. */
export function registryConnectOptions(cluster: NonNullable<ResolvedConfig['cluster']>): RegistryConnectOptions {
  return {
    connect: cluster.zookeeper.connect,
    cluster: cluster.name,
    group: cluster.group,
    sessionTimeoutMs: cluster.zookeeper.sessionTimeoutMs,
    ...(cluster.zookeeper.auth ? { auth: cluster.zookeeper.auth } : {}),
  };
}
