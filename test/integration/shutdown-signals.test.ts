// `tunnel start` and its signals (docs/operations.md): SIGTERM drains in-flight batches within
// shutdownTimeoutMs and exits 0; past the deadline the batches are abandoned and retried after the
// restart, never committed; a second signal exits 1 at once without waiting for the drain. A webhook
// receiver that never answers holds a batch in flight; after each stop the position must still be
// before that batch's transaction, and a restart against a receiver that answers delivers it.
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilePositionStore } from '../../core/checkpoint/index.ts';
import { createTestDatabase, mysqlConnection, waitFor } from '../helpers/servers.ts';
import { WebhookReceiver } from '../helpers/webhook-receiver.ts';
import {
  comparePositions,
  masterPosition,
  removeDir,
  sinkText,
  startTunnel,
  stopTunnel,
  taskDir,
  writeConfig,
  type RunningTunnel,
} from '../helpers/chaos-harness.ts';

const DB = 'shutdown_signals';
const SECRET = 'shutdown-signals-webhook-secret';
const TASK = 'signals';

describe('tunnel start: the shutdown deadline and a second signal', () => {
  const dir = taskDir('signals');
  const receiver = new WebhookReceiver(SECRET);
  let conn: mysql.Connection;
  let tunnel: RunningTunnel | undefined;
  let configFor: (shutdownTimeoutMs: number) => string;

  beforeAll(async () => {
    await receiver.start();
    await createTestDatabase(DB);
    conn = await mysqlConnection();
    await conn.query(`CREATE TABLE ${DB}.t (id INT PRIMARY KEY, note VARCHAR(32) NOT NULL)`);
    const startFrom = await masterPosition(conn);
    configFor = (shutdownTimeoutMs) =>
      writeConfig(
        {
          dir,
          shutdownTimeoutMs,
          tasks: [{ name: TASK, db: DB, serverId: 7950, startFrom, plugins: [sinkText.webhook(receiver.url, SECRET, 'timeoutMs: 120000')] }],
        },
        `tunnel.${shutdownTimeoutMs}.config.ts`,
      );
  });

  afterAll(async () => {
    await stopTunnel(tunnel, 'SIGKILL');
    await receiver.close();
    await conn?.end();
    removeDir(dir);
  });

  /** Writes one row while the receiver hangs; resolves once its batch is in flight; the row's commit position. */
  async function rowInFlight(id: number) {
    receiver.holding = true;
    const heldBefore = receiver.held;
    await conn.query(`INSERT INTO ${DB}.t (id, note) VALUES (?, ?)`, [id, `row ${id}`]);
    const commit = await masterPosition(conn);
    await waitFor(() => receiver.held > heldBefore, { timeoutMs: 30_000, what: `the batch of row ${id} at the receiver` });
    return commit;
  }

  /** The task's stored position is before `commit` (or there is none): the held row is not committed. */
  async function expectNotCommitted(commit: { file: string; offset: number }) {
    const stored = await new FilePositionStore(`${dir}/positions`).load(TASK);
    if (stored) expect(comparePositions(stored.position, commit)).toBeLessThan(0);
  }

  /** A restart against a receiver that answers delivers the row. */
  async function expectDeliveredAfterRestart(id: number, config: string) {
    receiver.holding = false;
    tunnel = await startTunnel(config);
    await waitFor(() => receiver.rows(`${DB}.t`).get(String(id)), { timeoutMs: 30_000, what: `row ${id} delivered after the restart` });
    expect(receiver.rows(`${DB}.t`).get(String(id))).toEqual({ id, note: `row ${id}` });
    expect(await stopTunnel(tunnel)).toBe(0);
    tunnel = undefined;
  }

  it('SIGTERM with a batch that never settles: exits 0 at the deadline, commits nothing past the batch, and the restart delivers it', async () => {
    const config = configFor(2000);
    tunnel = await startTunnel(config);
    const commit = await rowInFlight(1);
    const termAt = Date.now();
    tunnel.proc.kill('SIGTERM');
    const exit = await tunnel.proc.exited;
    const stopMs = Date.now() - termAt;
    console.log(`shutdown deadline 2000 ms: exit ${exit.code} after ${stopMs} ms with a batch in flight`);
    expect(exit.code).toBe(0);
    // the drain waited out its deadline (a busy machine only adds to the time)
    expect(stopMs).toBeGreaterThanOrEqual(2000);
    expect(tunnel.proc.logs().some((l) => l.msg === 'shutdown deadline passed with batches in flight; they are retried after restart')).toBe(true);
    tunnel = undefined;
    await expectNotCommitted(commit);
    await expectDeliveredAfterRestart(1, config);
  });

  it('a second SIGTERM exits 1 at once, without waiting for the drain; nothing is committed past the batch', async () => {
    const config = configFor(60_000);
    tunnel = await startTunnel(config);
    const commit = await rowInFlight(2);
    tunnel.proc.kill('SIGTERM');
    await tunnel.proc.waitForLog((l) => l.msg === 'shutting down: draining in-flight batches');
    const secondAt = Date.now();
    tunnel.proc.kill('SIGTERM');
    const exit = await tunnel.proc.exited;
    const exitMs = Date.now() - secondAt;
    console.log(`second signal: exit ${exit.code} ${exitMs} ms after it (shutdown deadline 60000 ms)`);
    expect(exit.code).toBe(1);
    expect(tunnel.proc.logs().some((l) => l.msg === 'second signal: exiting without waiting for the drain')).toBe(true);
    // far below the 60 s the drain would have waited
    expect(exitMs).toBeLessThan(30_000);
    tunnel = undefined;
    await expectNotCommitted(commit);
    await expectDeliveredAfterRestart(2, config);
  });

  it('the receiver saw every row and nothing else', () => {
    expect([...receiver.rows(`${DB}.t`).keys()].sort()).toEqual(['1', '2']);
    expect(receiver.badSignatures).toBe(0);
  });
});
