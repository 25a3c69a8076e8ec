// The benchmark's bare-sink baselines count and replay what a Tunnel catch-up sent: these are the
// rules that turn a recorded body into row changes (its validity check) and into the Redis commands of
// the Redis baselines, on literal bodies in the sinks' formats.
import { describe, expect, it } from 'vitest';
import { redisCommandsOf } from '../../bench/lib/baselines.ts';
import { shapeOf } from '../../bench/lib/dataset.ts';
import { bulkActions, webhookRows } from '../../bench/lib/recorder.ts';

const bulk = Buffer.from(
  [
    '{"index":{"_index":"tunnel_bench_t","_id":"1"}}',
    '{"id":1,"a":7919,"b":"name 1 x","c":"-312498.75","d":"2024-01-01 00:00:01.000001","e":{"n":1,"tag":"t1"},"f":0.14285714285714285}',
    '{"index":{"_index":"tunnel_bench_t","_id":"10"}}',
    '{"id":10,"a":79190,"b":null,"c":"-312487.50","d":"2024-01-01 00:00:10.000010","e":null,"f":1.4285714285714286}',
    '{"delete":{"_index":"tunnel_bench_t","_id":"499999"}}',
    '',
  ].join('\n'),
);

describe('bench capture: row changes of a recorded body', () => {
  it('counts the action lines of an Elasticsearch bulk body, not its documents', () => {
    expect(bulkActions(bulk)).toBe(3);
  });

  it('counts the rows of the events of a webhook body, as a JSON array or as NDJSON', () => {
    const events = [
      { schema: 'tunnel_bench', table: 't', action: 'insert', rows: [[{ column: 'id', value: 1 }], [{ column: 'id', value: 2 }]] },
      { schema: 'tunnel_bench', table: 't', action: 'delete', rows: [[{ column: 'id', value: 9 }]] },
    ];
    expect(webhookRows(Buffer.from(JSON.stringify(events)))).toBe(3);
    expect(webhookRows(Buffer.from(events.map((e) => JSON.stringify(e)).join('\n') + '\n'))).toBe(3);
  });
});

describe('bench Redis baselines: the Redis sink commands of a bulk body', () => {
  it('an HSET of the row image per index action (no field for NULL, JSON for non-strings), a DEL per delete', () => {
    expect(redisCommandsOf([bulk])).toEqual([
      [
        'hset',
        'bench:raw:1',
        'id',
        '1',
        'a',
        '7919',
        'b',
        'name 1 x',
        'c',
        '-312498.75',
        'd',
        '2024-01-01 00:00:01.000001',
        'e',
        '{"n":1,"tag":"t1"}',
        'f',
        '0.14285714285714285',
      ],
      ['hset', 'bench:raw:10', 'id', '10', 'a', '79190', 'c', '-312487.50', 'd', '2024-01-01 00:00:10.000010', 'f', '1.4285714285714286'],
      ['del', 'bench:raw:499999'],
    ]);
  });
});

describe('bench dataset shape', () => {
  it("is issue 16's 650,000 row changes for 500,000 inserts, in whole transactions of 1,000", () => {
    expect(shapeOf(500_000)).toEqual({ inserts: 500_000, updates: 100_000, deletes: 50_000 });
    expect(() => shapeOf(12_345)).toThrow(/multiple of 1000/);
  });
});
