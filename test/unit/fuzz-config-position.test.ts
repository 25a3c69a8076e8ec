import { describe, expect, it } from 'vitest';
import { resolveConfig, TunnelError, parsePosition, decodeStoredPosition } from '../../core/index.ts';

/** Deterministic PRNG (mulberry32) so a failure reproduces from its seed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const good = () => ({
  tasks: [
    { name: 't', source: { host: 'h', user: 'u', serverId: 1, port: 3306, include: ['a.*'] }, plugins: [{ name: 'p', apply() {} }], batch: { maxRows: 10 } },
  ],
  status: { port: 8090 },
});

function randomValue(next: () => number, depth = 0): unknown {
  const pick = Math.floor(next() * 12);
  switch (pick) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return next() * 1e6 - 5e5;
    case 3:
      return Math.floor(next() * 70000) - 1;
    case 4:
      return '';
    case 5:
      return String.fromCharCode(...Array.from({ length: 1 + Math.floor(next() * 12) }, () => Math.floor(next() * 0xffff)));
    case 6:
      return next() < 0.5;
    case 7:
      return depth > 3 ? [] : Array.from({ length: Math.floor(next() * 3) }, () => randomValue(next, depth + 1));
    case 8:
      return depth > 3 ? {} : { [`k${Math.floor(next() * 5)}`]: randomValue(next, depth + 1) };
    case 9:
      return () => 1;
    case 10:
      return NaN;
    default:
      return Symbol('s').toString();
  }
}

/** Replace one randomly chosen leaf or field of a valid config with a random value. */
function mutate(value: unknown, next: () => number): unknown {
  if (value === null || typeof value !== 'object' || next() < 0.25) return randomValue(next);
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as object) };
  const keys = Object.keys(copy);
  const key = next() < 0.15 ? `extra${Math.floor(next() * 3)}` : (keys[Math.floor(next() * keys.length)] ?? 'x');
  copy[key] = mutate(copy[key], next);
  return copy;
}

describe('fuzzing the config loader and the position parser', () => {
  it('a malformed config is always a TunnelError with a one-line-per-issue message, never a crash', () => {
    const next = rng(42);
    let rejected = 0;
    for (let i = 0; i < 3000; i++) {
      const input = mutate(good(), next);
      try {
        resolveConfig(input);
      } catch (error) {
        rejected++;
        expect(error, `seed 42 case ${i}`).toBeInstanceOf(TunnelError);
        expect((error as Error).message).toMatch(/^invalid config: /);
        expect((error as Error).message).not.toMatch(/\n\s+at /);
      }
    }
    expect(rejected).toBeGreaterThan(1000);
  });

  it('a malformed position is always a PositionFormatError naming what was expected', () => {
    const next = rng(7);
    const samples = [
      '',
      ':',
      'bin:',
      ':12',
      'bin.000001:-1',
      'bin.000001:1e3',
      'a b:1',
      '{',
      '{"file":1}',
      '{"file":"x","offset":"3"}',
      'null',
      '[]',
      'bin.000001:99999999999999999',
    ];
    for (let i = 0; i < 2000; i++) samples.push(String(randomValue(next)), JSON.stringify(mutate({ file: 'b.1', offset: 4 }, next)) ?? '');
    for (const text of samples) {
      try {
        const position = parsePosition(text);
        expect(typeof position.file).toBe('string');
        expect(Number.isSafeInteger(position.offset)).toBe(true);
      } catch (error) {
        expect(error, text).toBeInstanceOf(TunnelError);
        expect((error as TunnelError).code).toBe('TUNNEL_ERR_POSITION_FORMAT');
      }
      try {
        decodeStoredPosition(text, 'fuzz');
      } catch (error) {
        expect(error, text).toBeInstanceOf(TunnelError);
      }
    }
    expect(parsePosition('mariadb-bin.000042:1234@0-1-99')).toEqual({ file: 'mariadb-bin.000042', offset: 1234, gtid: '0-1-99' });
  });
});
