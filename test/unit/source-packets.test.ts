// Packet-level decisions of the source that the MariaDB test server cannot produce: MySQL 8's
// compressed transactions and partial JSON updates must stop the source with a clear error, never be
// skipped; a rows event whose table map is missing is an error too. These drive the source's packet
// handler directly with hand-made packets (no server involved).
import { describe, expect, it } from 'vitest';
import { SourceError } from '../../core/errors/index.ts';
import type { BinlogPosition, RowEvent } from '../../core/event/index.ts';
import { silentLogger } from '../../core/log/index.ts';
import { createBinlogSource } from '../../core/source/index.ts';

interface PacketHarness {
  errors: Error[];
  events: RowEvent[];
  commits: BinlogPosition[];
  feed(type: number, body: Buffer, nextPosition?: number): unknown;
  source: Record<string, unknown>;
}

function harness(): PacketHarness {
  const errors: Error[] = [];
  const events: RowEvent[] = [];
  const commits: BinlogPosition[] = [];
  const source = createBinlogSource(
    { connection: { host: '127.0.0.1', port: 1, user: 'u', password: 'p' }, serverId: 1, include: ['shop.*'], exclude: [] },
    silentLogger(),
  ) as unknown as Record<string, unknown> & { onPacket: (...args: unknown[]) => unknown };
  source.state = 'running';
  (source.tracker as Record<string, unknown>).file = 'mysql-bin.000007';
  source.handler = { onEvent: (e: RowEvent) => events.push(e), onCommit: (p: BinlogPosition) => commits.push(p), onError: (e: Error) => errors.push(e) };
  const next = () => undefined;
  const zongji = { useChecksum: true, BinlogClass: { prototype: { binlogData: next } } };
  const delegated: unknown[] = [];
  const original = (packet: unknown) => delegated.push(packet);
  return {
    errors,
    events,
    commits,
    source,
    feed(type, body, nextPosition = 1000) {
      const header = Buffer.alloc(20);
      header[0] = 0x00; // OK marker
      header.writeUInt32LE(1_700_000_000, 1);
      header[5] = type;
      header.writeUInt32LE(1, 6);
      header.writeUInt32LE(19 + body.length + 4, 10);
      header.writeUInt32LE(nextPosition, 14);
      const buffer = Buffer.concat([header, body, Buffer.alloc(4)]);
      const packet = { buffer, offset: 0, end: buffer.length, isEOF: () => false, isError: () => false };
      return source.onPacket(null, original, packet, null, zongji);
    },
  };
}

describe('source packet handling', () => {
  it('a MySQL compressed transaction payload stops the source with a SourceError naming the setting', () => {
    const h = harness();
    h.feed(0x28, Buffer.alloc(30));
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toBeInstanceOf(SourceError);
    expect(h.errors[0]!.message).toMatch(/compressed transaction.*binlog_transaction_compression=OFF/);
    expect(h.errors[0]!.message).toContain('mysql-bin.000007');
    expect(h.source.state).toBe('failed');
    // nothing more is processed after the failure
    h.feed(0x1e, Buffer.alloc(30));
    expect(h.errors).toHaveLength(1);
  });

  it('a MySQL partial JSON update stops the source too', () => {
    const h = harness();
    h.feed(0x27, Buffer.alloc(30));
    expect(h.errors[0]).toBeInstanceOf(SourceError);
    expect(h.errors[0]!.message).toMatch(/partial JSON update.*binlog_row_value_options/);
  });

  it('a rows event without its table map is an error, not a silent skip', () => {
    const h = harness();
    const body = Buffer.alloc(12);
    body.writeUIntLE(42, 0, 6); // table id 42, never mapped
    h.feed(0x17, body);
    expect(h.errors[0]).toBeInstanceOf(SourceError);
    expect(h.errors[0]!.message).toMatch(/table id 42 without its table map/);
  });

  it('rows of an excluded table are skipped without decoding', () => {
    const h = harness();
    // table map of other.secret (excluded: include is shop.*): table id 7
    const map = Buffer.concat([Buffer.from([7, 0, 0, 0, 0, 0, 0, 0, 5]), Buffer.from('other\0'), Buffer.from([6]), Buffer.from('secret\0')]);
    h.feed(0x13, map);
    const rows = Buffer.alloc(40, 0xee); // garbage that would not decode
    rows.writeUIntLE(7, 0, 6);
    h.feed(0x1e, rows);
    expect(h.errors).toEqual([]);
    expect(h.events).toEqual([]);
  });

  it('a connection silent for three heartbeat periods counts as dropped; a paused one does not', async () => {
    const errors: Error[] = [];
    const source = createBinlogSource(
      {
        connection: { host: '127.0.0.1', port: 1, user: 'u', password: 'p' },
        serverId: 1,
        include: [],
        exclude: [],
        heartbeatMs: 20,
        reconnect: { maxAttempts: 0 },
      },
      silentLogger(),
    ) as unknown as Record<string, unknown> & { watchdog: { start(): void }; pause(): void; resume(): void };
    source.state = 'running';
    source.handler = { onEvent: () => {}, onCommit: () => {}, onError: (e: Error) => errors.push(e) };
    let realPaused = false;
    (source.flow as Record<string, unknown>).realPause = () => (realPaused = true);
    (source.flow as Record<string, unknown>).realResume = () => (realPaused = false);
    source.watchdog.start();
    source.pause();
    expect(realPaused).toBe(true);
    await new Promise((r) => setTimeout(r, 150)); // paused: silence is expected
    expect(errors).toEqual([]);
    source.resume();
    expect(realPaused).toBe(false);
    await new Promise((r) => setTimeout(r, 150));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(SourceError);
    expect(errors[0]!.message).toMatch(/could not reconnect after 0 attempts: TUNNEL_HEARTBEAT_TIMEOUT: no event or heartbeat for 60 ms/);
  });
});
