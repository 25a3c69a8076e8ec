/**
 * The Redis sink's writer: one connection to a standalone server (host/port or URL, AUTH, SELECT,
 * TLS) that sends buffers of already encoded commands and hands back their replies, in order.
 *
 * ioredis makes an object, a promise and a timer per command; a batch of 1,000 rows is ~1,000
 * commands, and that per-command machinery cost more CPU than encoding the rows themselves
 * (docs/performance.md). Here a batch is a few buffers and one promise. Sentinel and Cluster stay on
 * ioredis (connection.ts), which finds their nodes.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from 'node:tls';
import { encodeCommand, RespError, RespProtocolError, RespReader, type RespValue } from './resp.ts';
import type { ResolvedRedisConnection } from './options.ts';

/** Where and how to connect, from the sink's `connection` option. */
export interface RespEndpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: TlsOptions;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** The endpoint of a standalone connection option; undefined for Sentinel and Cluster. */
export function respEndpoint(connection: string | ResolvedRedisConnection): RespEndpoint | undefined {
  const c: Partial<ResolvedRedisConnection> = typeof connection === 'string' ? { url: connection } : connection;
  if (c.cluster || c.sentinels) return undefined;
  const endpoint: RespEndpoint = {
    host: c.host ?? '127.0.0.1',
    port: c.port ?? 6379,
    db: c.db ?? 0,
    connectTimeoutMs: c.connectTimeoutMs ?? 10_000,
    commandTimeoutMs: c.commandTimeoutMs ?? 10_000,
    ...(c.username ? { username: c.username } : {}),
    ...(c.password !== undefined ? { password: c.password } : {}),
  };
  let tls = c.tls ? { ...c.tls } : undefined;
  if (c.url) {
    // what ioredis reads from a URL: redis[s]://[[user]:password@]host[:port][/db]
    const url = new URL(c.url);
    if (url.hostname) endpoint.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (url.port) endpoint.port = Number(url.port);
    if (url.username) endpoint.username = decodeURIComponent(url.username);
    if (url.password) endpoint.password = decodeURIComponent(url.password);
    const db = url.pathname.slice(1);
    if (db && c.db === undefined) endpoint.db = Number(db);
    if (url.protocol === 'rediss:') tls ??= {};
  }
  if (tls) endpoint.tls = tls;
  return endpoint;
}

interface Request {
  replies: number;
  got: RespValue[];
  resolve(replies: RespValue[]): void;
  reject(error: Error): void;
}

/** An error of the connection itself (not a reply): the batch is retried. */
export class RespConnectionError extends Error {
  override readonly name = 'RespConnectionError';
}

export class RespConnection {
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #reader = new RespReader();
  /** Requests whose replies are still to come, in the order they were written. */
  #queue: Request[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly endpoint: RespEndpoint) {}

  /** Connects (AUTH, SELECT) unless connected; rejects with the server's or the socket's error. */
  async connect(): Promise<void> {
    await this.#open();
  }

  /**
   * Writes `payload` (`replies` encoded commands) and resolves with their replies in order; an
   * error reply is a RespError value. Rejects when the connection fails or no reply comes within
   * the command timeout (the connection is then closed: what it had in flight is unknown).
   */
  async send(payload: Buffer | Buffer[], replies: number): Promise<RespValue[]> {
    const socket = await this.#open();
    return this.#write(socket, payload, replies);
  }

  #write(socket: Socket, payload: Buffer | Buffer[], replies: number): Promise<RespValue[]> {
    return new Promise<RespValue[]>((resolve, reject) => {
      if (replies === 0) return resolve([]);
      this.#queue.push({ replies, got: [], resolve, reject });
      if (Array.isArray(payload)) {
        // the parts of one payload leave in one write
        socket.cork();
        for (const part of payload) socket.write(part);
        socket.uncork();
      } else socket.write(payload);
      this.#arm();
    });
  }

  #arm(): void {
    if (this.#timer || this.#queue.length === 0) return;
    const timeout = this.endpoint.commandTimeoutMs;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fail(new RespConnectionError(`no reply within ${timeout} ms (commandTimeoutMs)`));
    }, timeout);
  }

  #onData(chunk: Buffer): void {
    let values: RespValue[];
    try {
      values = this.#reader.feed(chunk);
    } catch (error) {
      this.#fail(error instanceof RespProtocolError ? new RespConnectionError(error.message) : (error as Error));
      return;
    }
    if (values.length === 0) return;
    // a reply refreshes the timeout: the server is working through the pipeline
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    let i = 0;
    while (i < values.length) {
      const request = this.#queue[0];
      if (!request) {
        this.#fail(new RespConnectionError('a reply came that no command asked for'));
        return;
      }
      const take = Math.min(request.replies - request.got.length, values.length - i);
      for (let k = 0; k < take; k++) request.got.push(values[i + k]!);
      i += take;
      if (request.got.length === request.replies) {
        this.#queue.shift();
        request.resolve(request.got);
      }
    }
    this.#arm();
  }

  /** Every request in flight fails; the socket is dropped (the next send connects again). */
  #fail(error: Error): void {
    const socket = this.#socket;
    this.#socket = undefined;
    this.#reader = new RespReader();
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const queue = this.#queue;
    this.#queue = [];
    for (const request of queue) request.reject(error);
    socket?.destroy();
  }

  #open(): Promise<Socket> {
    if (this.#closed) return Promise.reject(new RespConnectionError('the connection is closed'));
    if (this.#socket) return Promise.resolve(this.#socket);
    this.#connecting ??= this.#dial().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #dial(): Promise<Socket> {
    const e = this.endpoint;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = e.tls ? tlsConnect({ host: e.host, port: e.port, ...e.tls }) : netConnect({ host: e.host, port: e.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new RespConnectionError(`connect to ${e.host}:${e.port} timed out after ${e.connectTimeoutMs} ms`));
      }, e.connectTimeoutMs);
      const ready = e.tls ? 'secureConnect' : 'connect';
      s.once(ready, () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (error) => {
        clearTimeout(timer);
        reject(new RespConnectionError(`connect to ${e.host}:${e.port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      });
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.#fail(new RespConnectionError(`${error.code ?? error.name}: ${error.message}`)));
    socket.on('close', () => {
      if (this.#socket === socket) this.#fail(new RespConnectionError('connection closed'));
    });
    this.#socket = socket;
    const setup: Buffer[] = [];
    if (e.password !== undefined) setup.push(encodeCommand(e.username ? ['auth', e.username, e.password] : ['auth', e.password]));
    if (e.db !== 0) setup.push(encodeCommand(['select', e.db]));
    if (setup.length > 0) {
      const replies = await this.#write(socket, setup, setup.length);
      const failed = replies.find((r): r is RespError => r instanceof RespError);
      if (failed) {
        this.#fail(new RespConnectionError(failed.message));
        throw new RespConnectionError(failed.message);
      }
    }
    if (this.#closed) {
      this.#fail(new RespConnectionError('the connection is closed'));
      throw new RespConnectionError('the connection is closed');
    }
    return socket;
  }

  /** Drops the connection (what is in flight fails); the next send connects again. */
  drop(): void {
    this.#fail(new RespConnectionError('the connection was dropped to connect again'));
  }

  /** Closes once the replies in flight have come (QUIT), or at once after the command timeout. */
  async close(): Promise<void> {
    this.#closed = true;
    const socket = this.#socket;
    if (!socket) return;
    try {
      await this.#write(socket, encodeCommand(['quit']), 1);
    } catch {
      // closed already
    }
    this.#fail(new RespConnectionError('the connection is closed'));
  }
}

export { RespError };
