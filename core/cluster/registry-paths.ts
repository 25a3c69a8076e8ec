/**
 * Every ZooKeeper path Tunnel uses, in one place. The first three are the fixed layout (operators and
 * their tools read them); the others serve task-level HA, beside them under the same group.
 * docs/architecture.md lists them all; keep the two in step.
 *
 * ```
 * /tunnel/{cluster}/{group}/election                 fixed: ephemeral, data = the leader's address (absent: no leader)
 * /tunnel/{cluster}/{group}/nodes/{node}             fixed: ephemeral per live worker, data = MemberData JSON
 * /tunnel/{cluster}/{group}/task/{task}/position     fixed: persistent, the committed position (StoredPosition JSON)
 * /tunnel/{cluster}/{group}/candidates/n_{seq}       HA:    ephemeral sequential election candidates
 * /tunnel/{cluster}/{group}/assignment               HA:    persistent, JSON {task: node} written by the leader
 * /tunnel/{cluster}/{group}/task/{task}              HA:    persistent; its data version is the task's fencing epoch
 * /tunnel/{cluster}/{group}/task/{task}/owner        HA:    ephemeral, data = the owning node id
 * ```
 */
import { ConfigError } from '../errors/index.ts';

/** The root every cluster lives under. */
export const REGISTRY_ROOT = '/tunnel';
/** Prefix of the ephemeral sequential candidate nodes (ZooKeeper appends a 10-digit sequence). */
export const CANDIDATE_PREFIX = 'n_';

export interface RegistryPaths {
  readonly cluster: string;
  readonly group: string;
  /** `/tunnel/{cluster}/{group}` */
  readonly groupRoot: string;
  /** `/tunnel/{cluster}/{group}/election` (fixed) */
  readonly election: string;
  /** `/tunnel/{cluster}/{group}/nodes` (fixed) */
  readonly nodes: string;
  /** `/tunnel/{cluster}/{group}/candidates` (task HA) */
  readonly candidates: string;
  /** `/tunnel/{cluster}/{group}/assignment` (task HA) */
  readonly assignment: string;
  /** `/tunnel/{cluster}/{group}/task` (fixed parent) */
  readonly tasks: string;
  /** `/tunnel/{cluster}/{group}/nodes/{node}` (fixed) */
  node(nodeId: string): string;
  /** `/tunnel/{cluster}/{group}/candidates/n_` — the prefix handed to an EPHEMERAL_SEQUENTIAL create. */
  candidatePrefix(): string;
  /** `/tunnel/{cluster}/{group}/task/{task}` (task HA: its data version is the fencing epoch) */
  task(task: string): string;
  /** `/tunnel/{cluster}/{group}/task/{task}/position` (fixed) */
  position(task: string): string;
  /** `/tunnel/{cluster}/{group}/task/{task}/owner` (task HA) */
  owner(task: string): string;
}

/**
 * A ZooKeeper path segment must not be empty, contain '/', be '.' or '..', or hold control
 * characters. Node ids like `host:port` are fine.
 */
export function assertSegment(kind: string, value: string): void {
  // eslint-disable-next-line no-control-regex
  if (typeof value !== 'string' || value === '' || value === '.' || value === '..' || /[/\u0000-\u001f\u007f]/.test(value)) {
    throw new ConfigError(
      `${kind} "${String(value)}" cannot be used in a ZooKeeper path: it must be non-empty, not "." or "..", and hold no "/" or control characters`,
      { [kind]: value },
    );
  }
}

export function registryPaths(cluster: string, group: string): RegistryPaths {
  assertSegment('cluster', cluster);
  assertSegment('group', group);
  const base = `${REGISTRY_ROOT}/${cluster}/${group}`;
  return {
    cluster,
    group,
    groupRoot: base,
    election: `${base}/election`,
    nodes: `${base}/nodes`,
    candidates: `${base}/candidates`,
    assignment: `${base}/assignment`,
    tasks: `${base}/task`,
    node(nodeId) {
      assertSegment('node id', nodeId);
      return `${base}/nodes/${nodeId}`;
    },
    candidatePrefix() {
      return `${base}/candidates/${CANDIDATE_PREFIX}`;
    },
    task(task) {
      assertSegment('task', task);
      return `${base}/task/${task}`;
    },
    position(task) {
      return `${this.task(task)}/position`;
    },
    owner(task) {
      return `${this.task(task)}/owner`;
    },
  };
}
