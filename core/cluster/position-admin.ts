/**
 * Position admin for the CLI (`tunnel positions`, `tunnel reset-position <task> --to ...`): read the
 * stored positions of a group and reset one — never while the task runs (its owner node exists).
 *
 * A reset is one multi that also bumps the task node's version (the fencing epoch), conditional on the
 * version seen while no owner existed: a worker that acquires the task in between makes the reset fail
 * (and it is re-checked), and a worker that acquired before can no longer write over the reset.
 */
import type { StoredPosition } from '../checkpoint/position-store.ts';
import type { BinlogPosition } from '../event/index.ts';
import { ClusterError } from '../errors/index.ts';
import type { TaskNodeData } from './member-events.ts';
import { decodePosition, encodePosition, type PositionRecord } from './position-codec.ts';
import type { RegistryConnectOptions } from './registry-options.ts';
import { registryPaths, type RegistryPaths } from './registry-paths.ts';
import { ZkConnection } from './zk-client.ts';
import { ZkCode, isZkCode, type ZkOp } from './zk-protocol.ts';

export type ZooKeeperPositionAdminOptions = RegistryConnectOptions;

export interface TaskPositionInfo {
  task: string;
  /** The stored record (position, updatedAt, snapshot?, writtenBy?, epoch?), or undefined when none. */
  stored: PositionRecord | undefined;
  /** Data version of the position node (how many times it was written, minus one). */
  version: number | undefined;
  /** Node id holding the task's owner node — the task is running there — or undefined. */
  owner: string | undefined;
}

/** What the admin writes as `writtenBy`. */
export const ADMIN_WRITER = 'admin';

export class ZooKeeperPositionAdmin {
  readonly paths: RegistryPaths;
  private readonly ownsConnection: boolean;

  /** Use an existing connection (it stays open on close()). */
  constructor(
    readonly zk: ZkConnection,
    cluster: string,
    group: string,
    options: { ownsConnection?: boolean } = {},
  ) {
    this.paths = registryPaths(cluster, group);
    this.ownsConnection = options.ownsConnection ?? false;
  }

  /** Open a connection of its own (closed by close()). */
  static async connect(options: ZooKeeperPositionAdminOptions): Promise<ZooKeeperPositionAdmin> {
    const zk = new ZkConnection({ connect: options.connect, auth: options.auth, sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, logger: options.logger });
    await zk.start();
    return new ZooKeeperPositionAdmin(zk, options.cluster, options.group, { ownsConnection: true });
  }

  /** Every task that has a node under `task/`, by name. */
  async listPositions(): Promise<TaskPositionInfo[]> {
    const tasks = ((await this.zk.getChildren(this.paths.tasks)) ?? []).sort();
    return Promise.all(tasks.map((t) => this.readPosition(t)));
  }

  async readPosition(task: string): Promise<TaskPositionInfo> {
    const [pos, owner] = await Promise.all([this.zk.getData(this.paths.position(task)), this.zk.getData(this.paths.owner(task))]);
    return {
      task,
      stored: pos ? decodePosition(pos.data, this.paths.position(task)) : undefined,
      version: pos?.stat.version,
      owner: owner?.data.toString('utf8'),
    };
  }

  /**
   * Set the task's position (`to`), or delete it (`null`: the task starts fresh). Refuses with
   * ClusterError while the task's owner node exists.
   */
  async resetPosition(task: string, to: BinlogPosition | StoredPosition | null): Promise<TaskPositionInfo> {
    const p = this.paths;
    const stored: StoredPosition | null = to === null ? null : 'position' in to ? to : { position: to, updatedAt: Date.now() };
    for (let attempt = 0; attempt < 10; attempt++) {
      const owner = await this.zk.getData(p.owner(task));
      if (owner) {
        throw new ClusterError(
          `task "${task}" is running on worker "${owner.data.toString('utf8')}" (it holds ${p.owner(task)}); stop the task or its worker before resetting its position`,
          { task, owner: owner.data.toString('utf8') },
        );
      }
      const taskStat = await this.zk.exists(p.task(task));
      if (!taskStat) {
        await this.zk.mkdirp(p.task(task));
        continue;
      }
      const posStat = await this.zk.exists(p.position(task));
      const epochData: TaskNodeData = { resetAt: Date.now() };
      const ops: ZkOp[] = [{ op: 'setData', path: p.task(task), data: Buffer.from(JSON.stringify(epochData)), version: taskStat.version }];
      if (stored === null) {
        if (posStat) ops.push({ op: 'remove', path: p.position(task), version: posStat.version });
      } else {
        const bytes = encodePosition(stored, ADMIN_WRITER);
        ops.push(
          posStat ? { op: 'setData', path: p.position(task), data: bytes, version: posStat.version } : { op: 'create', path: p.position(task), data: bytes },
        );
      }
      try {
        await this.zk.multi(ops);
        return await this.readPosition(task);
      } catch (err) {
        // Something changed between the reads and the write (an acquisition, a position write): look again.
        if (isZkCode(err, ZkCode.BAD_VERSION, ZkCode.NO_NODE, ZkCode.NODE_EXISTS)) continue;
        throw err;
      }
    }
    throw new ClusterError(`could not reset the position of task "${task}": it kept changing`, { task });
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.zk.close();
  }
}
