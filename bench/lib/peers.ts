// The decoders the benchmark compares on the prepared binlog, one process each, one at a time:
// Tunnel's source, bare zongji, go-mysql's BinlogSyncer (bench/peers/go-mysql, Go module
// github.com/go-mysql-org/go-mysql v1.13.0) and Debezium's embedded engine (bench/peers/debezium,
// Maven Central: 3.6.1.Final with the MySQL connector, 3.5.0.Final with the MariaDB connector). The peers are built here from their registries on first use
// (Go module cache and local Maven repository, outside the repository; the builds go to
// bench/.tmp/peers) and rebuilt when their sources change.
//
// Every counter speaks bench/peers/protocol.ts: the driver reads the process's CPU time (user + sys,
// /proc/<pid>/stat) at its "start" and "done" lines and its peak RSS (VmHWM) at "done".
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CounterArgs, CounterDone } from '../peers/protocol.ts';
import { BENCH, benchRoot, cpuSecondsOf, log, rssOf, tmpRoot } from './common.ts';
import type { Dataset } from './dataset.ts';
import type { SourceServer } from './source-servers.ts';

export type DecoderName = 'tunnel' | 'zongji' | 'gomysql' | 'debezium';
export const DECODERS: DecoderName[] = ['tunnel', 'zongji', 'gomysql', 'debezium'];
export const DECODER_LABEL: Record<DecoderName, string> = {
  tunnel: 'Tunnel source',
  zongji: 'bare zongji',
  gomysql: 'go-mysql BinlogSyncer v1.13.0',
  debezium: 'Debezium embedded',
};

/** Which Debezium build reads which server (see bench/peers/debezium/pom.xml). */
export const DEBEZIUM_BUILD: Record<'mariadb' | 'mysql', { profile: string[]; label: string }> = {
  mysql: { profile: [], label: 'Debezium 3.6.1.Final embedded, MySQL connector' },
  mariadb: { profile: ['-Pmariadb'], label: 'Debezium 3.5.0.Final embedded, MariaDB connector' },
};

const peersDir = resolve(benchRoot, 'peers');
const buildDir = join(tmpRoot, 'peers');

export interface MeasuredRun {
  done: CounterDone & Record<string, unknown>;
  rowsPerSec: number;
  /** CPU seconds (user + sys, every thread) between the process's "start" and "done". */
  cpuS: number;
  peakRssMB: number;
}

/** Runs one counter-protocol process to its "done" line and measures it. */
export function runMeasured(command: string, argv: string[], what: string, env: Record<string, string> = {}, timeoutMs = 600_000): Promise<MeasuredRun> {
  return new Promise((ok, fail) => {
    const child = spawn(command, argv, { cwd: resolve(benchRoot, '..'), env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const pid = child.pid!;
    let cpu0: number | undefined;
    let result: MeasuredRun | undefined;
    let err = '';
    let buffer = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`${what}: no result within ${timeoutMs / 1000} s; stderr: ${err.slice(-2000)}`));
    }, timeoutMs);
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-20_000)));
    child.stdout.on('data', (c: Buffer) => {
      buffer += c.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const message = JSON.parse(line) as { event: string } & Record<string, unknown>;
        if (message.event === 'start') cpu0 = cpuSecondsOf(pid);
        else if (message.event === 'done') {
          const cpu1 = cpuSecondsOf(pid);
          const rss = rssOf(pid);
          const done = message as unknown as MeasuredRun['done'];
          result = { done, rowsPerSec: done.rows / (done.ms / 1000), cpuS: (cpu1 ?? NaN) - (cpu0 ?? NaN), peakRssMB: rss?.hwmMB ?? NaN };
          child.stdin.end();
        }
      }
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (result) ok(result);
      else fail(new Error(`${what} exited (${signal ?? code}) without a result: ${err.slice(-3000)}`));
    });
  });
}

// ------------------------------------------------------------------------------------------------
// building the peers

function hashOf(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f).update(readFileSync(f));
  return h.digest('hex');
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

/** Runs `build` unless the stamp says these sources were built already and the outputs are there. */
function cachedBuild(name: string, sources: string[], outputs: string[], build: () => void): void {
  const stamp = join(buildDir, `${name}.stamp`);
  const hash = hashOf(sources);
  if (outputs.every((o) => existsSync(o)) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  const t0 = Date.now();
  log(`peers: building ${name} (first run, or its sources changed)`);
  build();
  writeFileSync(stamp, hash);
  log(`peers: ${name} built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

/** A JDK (javac and java) for Debezium: OpenJDK 17 (scripts/bench installs it), else Temurin 25. */
export function jdkHome(): string | undefined {
  for (const home of ['/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/temurin-25-jdk-amd64']) {
    if (existsSync(join(home, 'bin/javac'))) return home;
  }
  return undefined;
}

const goCounter = join(buildDir, 'gomysql-counter');
const debeziumClasses = (server: 'mariadb' | 'mysql') => join(buildDir, `debezium-${server}/classes`);
const debeziumClasspath = (server: 'mariadb' | 'mysql') => join(buildDir, `debezium-${server}/classpath.txt`);

/** Builds what is missing for reading `server`; returns why a peer cannot run, per peer (nothing for those that can). */
export function preparePeers(server: 'mariadb' | 'mysql'): Partial<Record<DecoderName, string>> {
  mkdirSync(buildDir, { recursive: true });
  const missing: Partial<Record<DecoderName, string>> = {};
  const goDir = join(peersDir, 'go-mysql');
  try {
    cachedBuild(
      'gomysql',
      ['go.mod', 'go.sum', 'main.go'].map((f) => join(goDir, f)),
      [goCounter],
      () =>
        execFileSync('go', ['build', '-mod=readonly', '-buildvcs=false', '-o', goCounter, '.'], {
          cwd: goDir,
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: 600_000,
        }),
    );
  } catch (error) {
    missing.gomysql = `cannot build bench/peers/go-mysql: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).slice(0, 500)}`;
  }
  const dbzDir = join(peersDir, 'debezium');
  const jdk = jdkHome();
  if (!jdk) missing.debezium = 'no JDK (javac) in /usr/lib/jvm: apt-get install openjdk-17-jdk-headless';
  else {
    try {
      const outputs = [debeziumClasses(server), debeziumClasspath(server)];
      cachedBuild(`debezium-${server}`, [join(dbzDir, 'pom.xml'), ...filesUnder(join(dbzDir, 'src'))], outputs, () =>
        execFileSync('mvn', ['-q', '-B', ...DEBEZIUM_BUILD[server].profile, 'compile', 'dependency:build-classpath', `-Dmdep.outputFile=${outputs[1]}`], {
          cwd: dbzDir,
          env: { ...process.env, JAVA_HOME: jdk },
          stdio: ['ignore', 'pipe', 'pipe'],
          timeout: 900_000,
        }),
      );
    } catch (error) {
      const e = error as { stdout?: Buffer; stderr?: Buffer; message: string };
      missing.debezium = `cannot build bench/peers/debezium: ${String(e.stdout ?? '').slice(-400)}${String(e.stderr ?? e.message).slice(-400)}`;
    }
  }
  return missing;
}

// ------------------------------------------------------------------------------------------------
// running one decoder over the prepared range

let serverIds = 7000 + Math.floor(Math.random() * 1000) * 10;

export function runDecoder(name: DecoderName, server: SourceServer, data: Dataset): Promise<MeasuredRun> {
  const args: CounterArgs = { server, serverId: serverIds++, database: BENCH.database, table: BENCH.table, from: data.from, end: data.end };
  const what = `${name === 'debezium' ? DEBEZIUM_BUILD[server.name].label : DECODER_LABEL[name]} on ${server.label}`;
  switch (name) {
    case 'tunnel':
    case 'zongji':
      return runMeasured(process.execPath, ['--import', 'tsx', join(peersDir, `${name}-counter.ts`), JSON.stringify(args)], what);
    case 'gomysql':
      return runMeasured(
        goCounter,
        [
          `-host=${server.host}`,
          `-port=${server.port}`,
          `-user=${server.user}`,
          `-password=${server.password}`,
          `-flavor=${server.name === 'mariadb' ? 'mariadb' : 'mysql'}`,
          `-server-id=${args.serverId}`,
          `-from-file=${data.from.file}`,
          `-from-pos=${data.from.offset}`,
          `-end-file=${data.end.file}`,
          `-end-pos=${data.end.offset}`,
          `-table=${BENCH.database}.${BENCH.table}`,
        ],
        what,
      );
    case 'debezium': {
      const classpath = `${debeziumClasses(server.name)}:${readFileSync(debeziumClasspath(server.name), 'utf8').trim()}`;
      return runMeasured(
        join(jdkHome()!, 'bin/java'),
        [
          '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
          '-cp',
          classpath,
          'tunnel.bench.DebeziumCounter',
          `connector=${server.name}`,
          `host=${server.host}`,
          `port=${server.port}`,
          `user=${server.user}`,
          `password=${server.password}`,
          `serverId=${args.serverId}`,
          `database=${BENCH.database}`,
          `table=${BENCH.table}`,
          `marker=${BENCH.markerTable}`,
          `file=${data.from.file}`,
          `pos=${data.from.offset}`,
          ...(data.gtids ? [`gtids=${data.gtids}`] : []),
        ],
        what,
      );
    }
  }
}
