import { describe, expect, it } from 'vitest';
import { computeAssignment, movedTasks, parseAssignment, type Assignment } from '../../core/cluster/assignment.ts';
import { registryPaths } from '../../core/cluster/registry-paths.ts';

const tasks = ['t1', 't2', 't3', 't4', 't5', 't6'];

function counts(a: Assignment): Record<string, number> {
  const out: Record<string, number> = {};
  for (const node of Object.values(a)) out[node] = (out[node] ?? 0) + 1;
  return out;
}

describe('computeAssignment', () => {
  it('spreads tasks evenly over the live nodes, every task exactly once', () => {
    const a = computeAssignment({ tasks, nodes: ['a', 'b', 'c'] });
    expect(Object.keys(a).sort()).toEqual(tasks);
    expect(counts(a)).toEqual({ a: 2, b: 2, c: 2 });
    const b = computeAssignment({ tasks: [...tasks, 't7'], nodes: ['a', 'b', 'c'] });
    expect(Object.values(counts(b)).sort()).toEqual([2, 2, 3]);
  });

  it('is deterministic whatever the input order', () => {
    const a = computeAssignment({ tasks, nodes: ['c', 'a', 'b'] });
    const b = computeAssignment({ tasks: [...tasks].reverse(), nodes: ['b', 'c', 'a'] });
    expect(a).toEqual(b);
  });

  it('returns nothing without nodes or tasks', () => {
    expect(computeAssignment({ tasks, nodes: [] })).toEqual({});
    expect(computeAssignment({ tasks: [], nodes: ['a'] })).toEqual({});
  });

  it('keeps a balanced assignment as it is (sticky), even when it is not the one it would compute fresh', () => {
    const previous = { t1: 'c', t2: 'c', t3: 'a', t4: 'a', t5: 'b', t6: 'b' };
    expect(computeAssignment({ tasks, nodes: ['a', 'b', 'c'], previous })).toEqual(previous);
  });

  it('moves only the orphans of a dead node, onto the least loaded survivors', () => {
    const previous = { t1: 'a', t2: 'a', t3: 'b', t4: 'b', t5: 'c', t6: 'c' };
    const next = computeAssignment({ tasks, nodes: ['a', 'b'], previous });
    expect(movedTasks(previous, next)).toEqual(['t5', 't6']);
    expect(counts(next)).toEqual({ a: 3, b: 3 });
    for (const t of ['t1', 't2', 't3', 't4']) expect(next[t]).toBe(previous[t as keyof typeof previous]);
  });

  it('moves only the surplus of overloaded nodes to a joining node', () => {
    const previous = { t1: 'a', t2: 'a', t3: 'a', t4: 'b', t5: 'b', t6: 'b' };
    const next = computeAssignment({ tasks, nodes: ['a', 'b', 'c'], previous });
    expect(counts(next)).toEqual({ a: 2, b: 2, c: 2 });
    expect(movedTasks(previous, next)).toHaveLength(2);
    // 4 nodes for 6 tasks: two keep 2, two get 1 — one move from a balanced 2/2/2.
    const four = computeAssignment({ tasks, nodes: ['a', 'b', 'c', 'd'], previous: next });
    expect(movedTasks(next, four)).toHaveLength(1);
    expect(Object.values(counts(four)).sort()).toEqual([1, 1, 2, 2]);
  });

  it('gives the remainder to nodes that already hold the tasks (no needless move)', () => {
    const previous = { t1: 'a', t2: 'a', t3: 'a', t4: 'b', t5: 'b', t6: 'c', t7: 'c' };
    const next = computeAssignment({ tasks: [...tasks, 't7'], nodes: ['a', 'b', 'c'], previous });
    expect(next).toEqual(previous);
  });

  it('assigns new tasks and drops tasks no longer configured', () => {
    const previous = { t1: 'a', t2: 'b', gone: 'a' };
    const next = computeAssignment({ tasks: ['t1', 't2', 't3', 't4'], nodes: ['a', 'b'], previous });
    expect(next.gone).toBeUndefined();
    expect(next.t1).toBe('a');
    expect(next.t2).toBe('b');
    expect(counts(next)).toEqual({ a: 2, b: 2 });
  });

  it('honours pins to live nodes, and balances the rest around them', () => {
    const pins = { t1: 'c', t2: 'c', t3: 'c' };
    const next = computeAssignment({ tasks, nodes: ['a', 'b', 'c'], pins });
    expect([next.t1, next.t2, next.t3]).toEqual(['c', 'c', 'c']);
    expect(counts(next)).toEqual({ a: 2, b: 1, c: 3 });
  });

  it('moves a pinned task to its node when that node comes back, and places it anywhere while it is dead', () => {
    const pins = { t6: 'c' };
    const whileDead = computeAssignment({ tasks, nodes: ['a', 'b'], pins });
    expect(['a', 'b']).toContain(whileDead.t6);
    expect(counts(whileDead)).toEqual({ a: 3, b: 3 });
    const back = computeAssignment({ tasks, nodes: ['a', 'b', 'c'], previous: whileDead, pins });
    expect(back.t6).toBe('c');
    expect(counts(back)).toEqual({ a: 2, b: 2, c: 2 });
    // only t6 and one more task (the surplus of the node that loses nothing else) move
    expect(movedTasks(whileDead, back)).toHaveLength(2);
  });

  it('keeps pinned tasks on their node even when that overloads it', () => {
    const pins = { t1: 'a', t2: 'a', t3: 'a', t4: 'a' };
    const next = computeAssignment({ tasks, nodes: ['a', 'b'], previous: { t5: 'a', t6: 'a' }, pins });
    expect(counts(next)).toEqual({ a: 4, b: 2 });
  });
});

describe('parseAssignment', () => {
  it('reads {task: node} JSON and ignores anything else', () => {
    expect(parseAssignment(Buffer.from('{"t1":"a","t2":3}'))).toEqual({ t1: 'a' });
    expect(parseAssignment(Buffer.from('not json'))).toEqual({});
    expect(parseAssignment(Buffer.from('[1]'))).toEqual({});
    expect(parseAssignment(undefined)).toEqual({});
  });
});

describe('registryPaths', () => {
  it('builds the fixed layout and the additions under /tunnel/{cluster}/{group}', () => {
    const p = registryPaths('prod', 'dc1');
    expect(p.election).toBe('/tunnel/prod/dc1/election');
    expect(p.node('10.0.0.1:8080')).toBe('/tunnel/prod/dc1/nodes/10.0.0.1:8080');
    expect(p.position('orders')).toBe('/tunnel/prod/dc1/task/orders/position');
    expect(p.owner('orders')).toBe('/tunnel/prod/dc1/task/orders/owner');
    expect(p.task('orders')).toBe('/tunnel/prod/dc1/task/orders');
    expect(p.assignment).toBe('/tunnel/prod/dc1/assignment');
    expect(p.candidatePrefix()).toBe('/tunnel/prod/dc1/candidates/n_');
  });

  it('refuses names that cannot be path segments', () => {
    expect(() => registryPaths('a/b', 'g')).toThrow(/cluster/);
    expect(() => registryPaths('c', '..')).toThrow(/group/);
    expect(() => registryPaths('c', 'g').task('')).toThrow(/task/);
  });
});
