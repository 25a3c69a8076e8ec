/**
 * The leader's pure assignment function: which live node runs which task.
 *
 * - balanced by count: every node ends with floor(n/m) or ceil(n/m) tasks, except where pins force
 *   more onto a node (pinned tasks are never moved off a live pinned node);
 * - pins: a task pinned to a live node goes there; pinned to a dead node it is placed like any other;
 * - sticky: a task whose previous owner is alive stays there unless that node holds more than its
 *   share; only the surplus of overloaded nodes and the orphans (new tasks, tasks of dead nodes) move.
 *
 * Deterministic: the same input gives the same output, whatever the order of the arrays.
 */

/** `{task: nodeId}` */
export type Assignment = Record<string, string>;

export interface AssignmentInput {
  /** The group's task names (from the configuration). Tasks not listed are dropped. */
  tasks: readonly string[];
  /** Live node ids (children of `nodes/`). */
  nodes: readonly string[];
  /** The assignment in force, to stay sticky to. */
  previous?: Readonly<Assignment>;
  /** `{task: nodeId}`: run the task on that node whenever it is alive. */
  pins?: Readonly<Record<string, string>>;
}

export function computeAssignment(input: AssignmentInput): Assignment {
  const tasks = [...new Set(input.tasks)].sort();
  const nodes = [...new Set(input.nodes)].sort();
  if (nodes.length === 0 || tasks.length === 0) return {};
  const live = new Set(nodes);
  const previous = input.previous ?? {};
  const pins = input.pins ?? {};

  const pinned = new Map<string, string[]>(nodes.map((n) => [n, []]));
  const kept = new Map<string, string[]>(nodes.map((n) => [n, []]));
  const orphans: string[] = [];
  for (const task of tasks) {
    const pin = pins[task];
    const prev = previous[task];
    if (pin !== undefined && live.has(pin)) pinned.get(pin)!.push(task);
    else if (prev !== undefined && live.has(prev)) kept.get(prev)!.push(task);
    else orphans.push(task);
  }

  // Quotas: start from the pinned counts and hand out the rest one at a time to the least loaded
  // node; among equals prefer the node that already holds more kept tasks (fewer moves), then by name.
  const quota = new Map<string, number>(nodes.map((n) => [n, pinned.get(n)!.length]));
  let rest = tasks.length - [...quota.values()].reduce((a, b) => a + b, 0);
  while (rest > 0) {
    let best = nodes[0]!;
    for (const n of nodes) {
      const q = quota.get(n)!;
      const bq = quota.get(best)!;
      if (q < bq) best = n;
      else if (q === bq) {
        const demand = kept.get(n)!.length + pinned.get(n)!.length - q;
        const bestDemand = kept.get(best)!.length + pinned.get(best)!.length - bq;
        if (demand > bestDemand) best = n;
      }
    }
    quota.set(best, quota.get(best)! + 1);
    rest--;
  }

  const result: Assignment = {};
  const load = new Map<string, number>();
  for (const n of nodes) {
    for (const t of pinned.get(n)!) result[t] = n;
    const room = quota.get(n)! - pinned.get(n)!.length;
    const mine = kept.get(n)!; // sorted, as tasks are
    // Keep the first `room` tasks; the surplus (the last ones by name) moves.
    mine.forEach((t, i) => {
      if (i < room) result[t] = n;
      else orphans.push(t);
    });
    load.set(n, pinned.get(n)!.length + Math.min(mine.length, Math.max(room, 0)));
  }

  orphans.sort();
  for (const task of orphans) {
    let best = nodes[0]!;
    let bestFree = -Infinity;
    for (const n of nodes) {
      const free = quota.get(n)! - load.get(n)!;
      if (free > bestFree) {
        best = n;
        bestFree = free;
      }
    }
    result[task] = best;
    load.set(best, load.get(best)! + 1);
  }
  // Stable key order, so equal assignments serialize to equal JSON.
  return Object.fromEntries(Object.entries(result).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Tasks whose owner differs between two assignments (added, removed or moved). */
export function movedTasks(before: Readonly<Assignment>, after: Readonly<Assignment>): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => before[k] !== after[k]).sort();
}

export function sameAssignment(a: Readonly<Assignment>, b: Readonly<Assignment>): boolean {
  return movedTasks(a, b).length === 0;
}

/** Parse the JSON of the `assignment` node; anything that is not `{string: string}` yields `{}`. */
export function parseAssignment(data: Buffer | undefined | null): Assignment {
  if (!data || data.length === 0) return {};
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
    const out: Assignment = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    return {};
  }
}
