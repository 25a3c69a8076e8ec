/**
 * Leader election within one ZooKeeper session: ephemeral sequential candidates under `candidates/`,
 * each watching only its predecessor (no herd on a change); the first candidate leads, once it has
 * written its address to the ephemeral `election` node (a departing leader's node is waited out).
 */
import { ClusterError } from '../errors/index.ts';
import { ScopeEnded, holdEphemeral, nextEvent, retry, waitConnected, type MemberContext, type Scope } from './session-scope.ts';
import { isRetryable } from './zk-protocol.ts';

/** The sequence ZooKeeper appended to a candidate's name (10 digits); names without one sort last. */
function sequenceOf(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
}

export class LeaderElection {
  /** This worker's candidate node, once it joined. */
  candidatePath: string | undefined;
  leader = false;

  constructor(
    private readonly ctx: MemberContext,
    private readonly scope: Scope,
    /** Written to `election` while this worker leads. */
    private readonly address: string,
    /** Called once this worker leads (after `elected` was emitted). */
    private readonly onElected: () => void,
  ) {}

  /** Put this worker's candidate in place (finding the one a lost reply may have made). */
  async join(): Promise<void> {
    const { ctx, scope } = this;
    const data = Buffer.from(JSON.stringify({ nodeId: ctx.nodeId, address: this.address }));
    for (;;) {
      // A create whose reply was lost may have made a candidate: find ours before making another.
      const existing = await this.findOwnCandidate();
      if (existing) {
        this.candidatePath = existing;
        return;
      }
      try {
        this.candidatePath = await ctx.zk.create(ctx.paths.candidatePrefix(), data, 'ephemeral_sequential');
        return;
      } catch (err) {
        if (!scope.alive) throw new ScopeEnded();
        if (!isRetryable(err)) throw err;
        await waitConnected(ctx, scope);
      }
    }
  }

  /** Wait for this worker's turn and lead; runs until the scope ends or the member closes. */
  run(): void {
    void this.runElection().catch((err) => {
      if (!(err instanceof ScopeEnded)) this.ctx.warn(err, 'election failed');
    });
  }

  /** Closing: delete the election node if this worker leads. Resolves whether it led. */
  async resign(): Promise<boolean> {
    if (!this.leader) return false;
    const { zk, paths } = this.ctx;
    await this.tryZk('give up leadership', async () => {
      const stat = await zk.exists(paths.election);
      if (stat && zk.isCurrentSession(stat.ephemeralOwner)) await zk.remove(paths.election, stat.version);
    });
    this.leader = false;
    return true;
  }

  /** Closing: delete this worker's candidate. */
  async withdraw(): Promise<void> {
    const path = this.candidatePath;
    if (!path) return;
    this.candidatePath = undefined;
    await this.tryZk('leave the election', () => this.ctx.zk.remove(path));
  }

  private async findOwnCandidate(): Promise<string | undefined> {
    const { ctx, scope } = this;
    const children = (await retry(ctx, scope, 'list candidates', () => ctx.zk.getChildren(ctx.paths.candidates))) ?? [];
    for (const c of children) {
      const path = `${ctx.paths.candidates}/${c}`;
      const stat = await retry(ctx, scope, 'inspect a candidate', () => ctx.zk.exists(path));
      if (stat && ctx.zk.isCurrentSession(stat.ephemeralOwner)) return path;
    }
    return undefined;
  }

  private async runElection(): Promise<void> {
    const { ctx, scope } = this;
    while (scope.alive && !ctx.isClosing()) {
      const mine = this.candidatePath;
      if (!mine) return; // left the election (closing)
      const myName = mine.slice(mine.lastIndexOf('/') + 1);
      const children = ((await retry(ctx, scope, 'list candidates', () => ctx.zk.getChildren(ctx.paths.candidates))) ?? []).sort(
        (a, b) => sequenceOf(a) - sequenceOf(b) || (a < b ? -1 : 1),
      );
      const index = children.indexOf(myName);
      if (index < 0) {
        if (ctx.isClosing() || !scope.alive) return;
        ctx.warn(new ClusterError("this worker's election candidate disappeared; joining again", { path: mine }), 'election');
        this.candidatePath = undefined;
        await this.join();
        continue;
      }
      if (index === 0) {
        await this.lead();
        return;
      }
      const predecessor = `${ctx.paths.candidates}/${children[index - 1]!}`;
      const change = nextEvent(scope);
      const stat = await retry(ctx, scope, 'watch the predecessor candidate', () => ctx.zk.exists(predecessor, change.watcher));
      if (!stat) continue;
      ctx.log.debug({ predecessor }, 'waiting for the predecessor candidate');
      await change.promise;
    }
  }

  private async lead(): Promise<void> {
    await this.claimElectionNode();
    if (!this.scope.alive || this.ctx.isClosing()) return;
    this.leader = true;
    this.ctx.log.info({ address: this.address }, 'elected leader');
    this.ctx.emit('elected');
    this.onElected();
  }

  /** Write our address to the (ephemeral) election node; wait out a leftover of a departing leader. */
  private async claimElectionNode(): Promise<void> {
    const { ctx, scope } = this;
    await holdEphemeral(ctx, scope, {
      path: ctx.paths.election,
      data: () => Buffer.from(this.address),
      what: 'the election node',
      refresh: true,
      stop: () => !scope.alive || ctx.isClosing(),
      onTaken: () => ctx.log.info("the previous leader's election node is still there; waiting for it to go"),
    });
  }

  private async tryZk(what: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.ctx.log.debug({ err }, `${what} failed (closing)`);
    }
  }
}
