import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../core/index.ts';
import { ConfigError } from '../../core/errors/index.ts';

const plugin = { name: 'p', apply() {} };
const task = (source: Record<string, unknown>) => ({ tasks: [{ name: 't', source: { user: 'u', serverId: 1, ...source }, plugins: [plugin] }] });
const error = (source: Record<string, unknown>) => {
  try {
    resolveConfig(task(source));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('source.hosts', () => {
  it('lists candidate servers as "host", "host:port", "[v6]:port" or { host, port }; host and port name the first', () => {
    const source = resolveConfig(task({ hosts: ['db1:3307', 'db2', { host: 'db3', port: 3310 }, '[::1]:3311'] })).tasks[0]!.source;
    expect(source.hosts).toEqual([
      { host: 'db1', port: 3307 },
      { host: 'db2', port: 3306 },
      { host: 'db3', port: 3310 },
      { host: '::1', port: 3311 },
    ]);
    expect([source.host, source.port]).toEqual(['db1', 3307]);
  });

  it('host and port alone are the one candidate', () => {
    const source = resolveConfig(task({ host: 'db1' })).tasks[0]!.source;
    expect(source.hosts).toEqual([{ host: 'db1', port: 3306 }]);
    expect(source.port).toBe(3306);
  });

  it('a resolved config resolves again to the same', () => {
    const once = resolveConfig(task({ hosts: ['db1:3307', 'db2'] }));
    expect(resolveConfig({ tasks: [{ ...once.tasks[0]!, plugins: [plugin] }] }).tasks[0]!.source).toEqual(once.tasks[0]!.source);
  });

  it('refuses both forms, a server listed twice, and bad entries, naming the field', () => {
    expect(error({ host: 'db1', hosts: ['db2'] })).toContain('tasks[0].source.host: give either `host` (and `port`) or `hosts`, not both');
    expect(error({ port: 3307, hosts: ['db2'] })).toContain('tasks[0].source.port: give either `host` (and `port`) or `hosts`, not both');
    expect(error({ hosts: ['db1:3306', { host: 'db1' }] })).toContain('tasks[0].source.hosts[1]: db1:3306 is listed twice');
    expect(error({ hosts: ['db1:port'] })).toContain('tasks[0].source.hosts[0]');
    expect(error({ hosts: [] })).toContain('tasks[0].source.hosts');
  });
});
