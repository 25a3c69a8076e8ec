/**
 * The leader's rebalancing: whenever the live members change (a watch on `nodes/`), it computes the
 * assignment (core/cluster/assignment.ts: balanced, sticky, pinned) and writes it to `assignment`,
 * guarded by a check of its own election candidate so a deposed leader's write fails.
 */
import { Backoff } from '../runtime/backoff.ts';
import { computeAssignment, movedTasks, parseAssignment, sameAssignment } from './assignment.ts';
import { REGISTRY_BACKOFF, ScopeEnded, retry, type MemberContext, type Scope } from './session-scope.ts';
import { ZkCode, isZkCode } from './zk-protocol.ts';

export interface RebalancerOptions {
  /** The group's task names (from the configuration). */
  tasks: readonly string[];
  /** `{task: nodeId}`: the task goes to that node whenever it is alive. */
  pins?: Readonly<Record<string, string>>;
  /** Wait after a membership change before rebalancing (coalesces bursts). */
  delayMs: number;
  /** Whether this worker still leads. */
  leading(): boolean;
  /** This worker's election candidate, which every assignment write checks. */
  candidatePath(): string | undefined;
}

/** One per scope in which this worker leads. */
export class Rebalancer {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private readonly failures = new Backoff(REGISTRY_BACKOFF);
  /** Re-arms itself through every rebalance's getChildren (the library keeps one watch per function). */
  private readonly nodesWatcher = () => {
    if (this.scope.alive && this.options.leading()) this.schedule();
  };

  constructor(
    private readonly ctx: MemberContext,
    private readonly scope: Scope,
    private readonly options: RebalancerOptions,
  ) {
    void scope.ended.then(() => clearTimeout(this.timer));
  }

  /** Rebalance soon, once per burst of calls. */
  schedule(): void {
    if (!this.scope.alive || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.rebalance();
    }, this.options.delayMs);
  }

  private async rebalance(): Promise<void> {
    const { ctx, scope, options } = this;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        if (!scope.alive || !options.leading()) return;
        const nodes = (await retry(ctx, scope, 'list the members', () => ctx.zk.getChildren(ctx.paths.nodes, this.nodesWatcher))) ?? [];
        const live = ctx.isClosing() ? nodes.filter((n) => n !== ctx.nodeId) : nodes;
        const current = await retry(ctx, scope, 'read the assignment', () => ctx.zk.getData(ctx.paths.assignment));
        const previous = parseAssignment(current?.data);
        const next = computeAssignment({ tasks: options.tasks, nodes: live, previous, pins: options.pins });
        if (current && sameAssignment(previous, next)) continue;
        const bytes = Buffer.from(JSON.stringify(next));
        const guard = { op: 'check' as const, path: options.candidatePath() ?? ctx.paths.candidates + '/-', version: -1 };
        try {
          await retry(ctx, scope, 'write the assignment', () =>
            ctx.zk.multi(
              current
                ? [guard, { op: 'setData', path: ctx.paths.assignment, data: bytes, version: current.stat.version }]
                : [guard, { op: 'create', path: ctx.paths.assignment, data: bytes }],
            ),
          );
        } catch (err) {
          if (isZkCode(err, ZkCode.BAD_VERSION, ZkCode.NODE_EXISTS, ZkCode.NO_NODE)) {
            this.again = true; // someone wrote in between (or a write of ours whose reply was lost): read again
            continue;
          }
          throw err;
        }
        const moved = movedTasks(previous, next);
        ctx.log.info({ nodes: live, moved, assignment: next }, 'assignment written');
        ctx.emit('rebalanced', { assignment: next, moved });
      } while (this.again && scope.alive);
      this.failures.reset();
    } catch (err) {
      if (!(err instanceof ScopeEnded)) {
        ctx.warn(err, 'rebalance failed; retrying');
        setTimeout(() => this.schedule(), this.failures.next()).unref();
      }
    } finally {
      this.running = false;
    }
  }
}
