// Real servers the chaos suite owns, so its faults don't take the shared ones from other tests:
// a private redis-server (append-only file fsynced on every write, so a stop or a crash keeps what
// it acknowledged), a counting proxy in front of Elasticsearch (which bulk actions ES acknowledged,
// to count duplicates), a Redis MONITOR that counts SETs written twice, and a TLS terminator.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort, sleep } from './chaos-harness.ts';

// ---------------------------------------------------------------------------------------------
// a private Redis

export class PrivateRedis {
  port = 0;
  private proc: ChildProcess | undefined;
  exits = 0;

  constructor(
    readonly dir: string,
    /** `tls`: TLS only (no plain port), with the certificates of makeCertificates(); clients verify them with its CA. */
    readonly options: { password?: string; tls?: TestCertificates } = {},
  ) {}

  async start(): Promise<number> {
    if (!this.port) this.port = await freePort();
    mkdirSync(this.dir, { recursive: true });
    const tls = this.options.tls;
    const listen = tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(this.port),
          '--tls-auth-clients',
          'no',
          '--tls-cert-file',
          tls.certFile,
          '--tls-key-file',
          tls.keyFile,
          '--tls-ca-cert-file',
          tls.caFile,
        ]
      : ['--port', String(this.port)];
    const args = [
      ...listen,
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--protected-mode',
      'no',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--daemonize',
      'no',
      '--logfile',
      join(this.dir, 'redis.log'),
      ...(this.options.password ? ['--requirepass', this.options.password] : []),
    ];
    const proc = spawn('redis-server', args, { stdio: 'ignore' });
    this.proc = proc;
    proc.on('exit', () => this.exits++);
    const deadline = Date.now() + 15_000;
    for (;;) {
      const probe = this.client({ maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return this.port;
      } catch {
        // not yet
      } finally {
        probe.disconnect();
      }
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}); log: ${this.dir}/redis.log`);
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer`);
      await sleep(50);
    }
  }

  /** SIGTERM (a clean stop) or SIGKILL (a crash); resolves once the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  }

  client(options: RedisOptions = {}): Redis {
    return new Redis({
      host: '127.0.0.1',
      port: this.port,
      maxRetriesPerRequest: 3,
      ...(this.options.password ? { password: this.options.password } : {}),
      ...(this.options.tls ? { tls: { ca: this.options.tls.ca } } : {}),
      ...options,
    });
  }
}

/**
 * Counts SETs Redis executed more than once with the same key and value (a row written again:
 * at-least-once delivery). Keys and values of the RowWriter's rows are unique per write (the note
 * carries a statement counter, the version grows), so a repeat is a redelivery.
 */
export class RedisSetCounter {
  duplicates = 0;
  sets = 0;
  /** With `attribute`: every SET/DEL of a key under the prefix, with the connection that sent it. */
  readonly writes: Array<{ at: number; addr: string; command: string; key: string }> = [];
  /** With `attribute`: connection address -> Redis user (from CLIENT LIST, polled). */
  readonly users = new Map<string, string>();
  private readonly seen = new Set<string>();
  private monitor: Redis | undefined;
  private base: Redis | undefined;
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: PrivateRedis,
    private readonly prefix: string,
    private readonly options: { attribute?: boolean } = {},
  ) {}

  async start(): Promise<void> {
    this.base = this.redis.client({ lazyConnect: true, retryStrategy: () => null });
    await this.base.connect();
    if (this.options.attribute) {
      const lister = this.redis.client({ lazyConnect: true, retryStrategy: () => null });
      lister.on('error', () => undefined);
      await lister.connect();
      const poll = async () => {
        const text = (await lister.client('LIST').catch(() => '')) as string;
        for (const line of text.split('\n')) {
          const addr = /\baddr=(\S+)/.exec(line)?.[1];
          const user = /\buser=(\S+)/.exec(line)?.[1];
          if (addr && user) this.users.set(addr, user);
        }
      };
      await poll();
      this.poller = setInterval(() => void poll(), 100);
      this.poller.unref();
      const stopLister = () => lister.disconnect();
      this.stopLister = stopLister;
    }
    const monitor = await this.base.monitor();
    this.monitor = monitor;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const command = args[0]?.toLowerCase();
      if (args.length < 2 || !args[1]!.startsWith(this.prefix)) return;
      if (this.options.attribute && (command === 'set' || command === 'del')) this.writes.push({ at: Date.now(), addr: source, command, key: args[1]! });
      if (command !== 'set' || args.length < 3) return;
      this.sets++;
      const id = createHash('sha1').update(args[1]!).update('\u0000').update(args[2]!).digest('base64');
      if (this.seen.has(id)) this.duplicates++;
      else this.seen.add(id);
    });
    monitor.on('error', () => undefined);
  }

  private stopLister: (() => void) | undefined;

  /** The writes sent by connections of Redis user `user` within [from, to). */
  writesBy(user: string, from: number, to = Infinity): Array<{ at: number; command: string; key: string }> {
    return this.writes.filter((w) => this.users.get(w.addr) === user && w.at >= from && w.at < to);
  }

  /** After the server restarted: monitor again. */
  async restart(): Promise<void> {
    this.stop();
    await this.start();
  }

  stop(): void {
    if (this.poller) clearInterval(this.poller);
    this.stopLister?.();
    this.monitor?.disconnect();
    this.base?.disconnect();
    this.monitor = undefined;
    this.base = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// a counting proxy in front of Elasticsearch

function stripHopHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'accept-encoding', 'host'].includes(key)) continue;
    out[key] = value;
  }
  return out;
}

/**
 * Forwards every request to Elasticsearch. For `_bulk` it reads the actions sent and the items ES
 * answered, and counts, per index, actions ES acknowledged (2xx) with the same action, _id and
 * source as one it acknowledged before: the duplicates delivered. When ES is down the client's
 * connection is cut, as it would be without the proxy.
 */
export class EsCountingProxy {
  acknowledged = 0;
  duplicates = 0;
  private readonly seen = new Set<string>();
  private server: Server | undefined;
  url = '';

  constructor(
    private readonly target: string,
    private readonly indexPrefix: string,
  ) {}

  async start(): Promise<string> {
    const target = new URL(this.target);
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const upstream = request(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...stripHopHeaders(req.headers), 'content-length': String(body.length) },
          },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (c: Buffer) => parts.push(c));
            answer.on('end', () => {
              const response = Buffer.concat(parts);
              if (req.url?.startsWith('/_bulk') && answer.statusCode === 200) this.count(body, response);
              res.writeHead(answer.statusCode ?? 502, { ...stripHopHeaders(answer.headers), 'content-length': String(response.length) });
              res.end(response);
            });
            answer.on('error', () => req.socket.destroy());
          },
        );
        upstream.on('error', () => req.socket.destroy());
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  private count(body: Buffer, response: Buffer): void {
    let items: Array<Record<string, { status?: number }>>;
    try {
      items = (JSON.parse(response.toString('utf8')) as { items?: Array<Record<string, { status?: number }>> }).items ?? [];
    } catch {
      return;
    }
    const lines = body
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    let item = 0;
    for (let i = 0; i < lines.length; i++) {
      const action = JSON.parse(lines[i]!) as Record<string, { _index?: string; _id?: string }>;
      const [op, meta] = Object.entries(action)[0]!;
      const source = op === 'delete' ? '' : lines[++i]!;
      const answer = items[item++];
      const status = answer ? (Object.values(answer)[0]?.status ?? 0) : 0;
      if (status < 200 || status >= 300 || !meta._index?.startsWith(this.indexPrefix)) continue;
      this.acknowledged++;
      if (op === 'delete') continue; // a delete of a key can legitimately repeat (delete, insert, delete)
      const id = createHash('sha1').update(`${op}\u0000${meta._index}\u0000${meta._id}\u0000`).update(source).digest('base64');
      if (this.seen.has(id)) this.duplicates++;
      else this.seen.add(id);
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// TLS

export interface TestCertificates {
  ca: string;
  cert: string;
  key: string;
  /** The same, as files (for servers that read them). */
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI. */
export function makeCertificates(dir: string): TestCertificates {
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tunnel-chaos-ca');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  return {
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
  };
}

/** Terminates TLS on a free port and forwards the plain bytes to 127.0.0.1:`targetPort`. */
export class TlsTerminator {
  port = 0;
  handshakes = 0;
  private server: TlsServer | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly targetPort: number,
    private readonly certificates: TestCertificates,
  ) {}

  async start(): Promise<number> {
    this.server = createTlsServer({ cert: this.certificates.cert, key: this.certificates.key }, (client) => {
      this.handshakes++;
      const upstream = netConnect(this.targetPort, '127.0.0.1');
      this.sockets.add(client);
      this.sockets.add(upstream);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream).pipe(client);
    });
    this.server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
