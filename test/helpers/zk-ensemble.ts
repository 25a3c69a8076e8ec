// The three-server ZooKeeper ensemble of scripts/services (`up zookeeper-ensemble`): where its members
// listen, which one leads, which member a session is connected to (ZooKeeper's own four-letter
// commands `srvr` and `cons`), and starting it for a test.
import { connect } from 'node:net';
import { runServices, waitFor } from './servers.ts';

/** Member names as scripts/services knows them. */
export const ENSEMBLE_MEMBERS = ['zookeeper1', 'zookeeper2', 'zookeeper3'] as const;
export type EnsembleMember = (typeof ENSEMBLE_MEMBERS)[number];

const basePort = Number(process.env.TUNNEL_ZK_ENSEMBLE_PORT || 12191);

/** Client port of each member: TUNNEL_ZK_ENSEMBLE_PORT and the two after it (as scripts/services). */
export const ensemblePorts: Record<EnsembleMember, number> = {
  zookeeper1: basePort,
  zookeeper2: basePort + 1,
  zookeeper3: basePort + 2,
};

/** The three-host connect string Tunnel is given. */
export const ensembleConnect = ENSEMBLE_MEMBERS.map((m) => `127.0.0.1:${ensemblePorts[m]}`).join(',');

/** Sends a four-letter command to a member; its answer ('' when it does not answer). */
export function fourLetters(member: EnsembleMember, command: 'srvr' | 'cons' | 'ruok', timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(ensemblePorts[member], '127.0.0.1');
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('connect', () => socket.end(command));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('close', done);
    socket.on('error', done);
  });
}

/** 'leader', 'follower', or undefined when the member does not serve (down, or no quorum). */
export async function modeOf(member: EnsembleMember): Promise<'leader' | 'follower' | undefined> {
  const mode = /Mode: (\w+)/.exec(await fourLetters(member, 'srvr'))?.[1];
  return mode === 'leader' || mode === 'follower' ? mode : undefined;
}

/** The members serving now, with their modes. */
export async function ensembleModes(): Promise<Partial<Record<EnsembleMember, 'leader' | 'follower'>>> {
  const modes = await Promise.all(ENSEMBLE_MEMBERS.map(async (m) => [m, await modeOf(m)] as const));
  return Object.fromEntries(modes.filter(([, mode]) => mode !== undefined));
}

export async function leaderOf(): Promise<EnsembleMember> {
  return waitFor(
    async () => {
      const modes = await ensembleModes();
      return ENSEMBLE_MEMBERS.find((m) => modes[m] === 'leader');
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'a ZooKeeper leader in the ensemble' },
  );
}

/** The member a session (hex id, as `ephemeralOwner` or Tunnel's logs have it) is connected to now. */
export async function memberOfSession(sessionIdHex: string): Promise<EnsembleMember | undefined> {
  const wanted = BigInt(`0x${sessionIdHex}`);
  for (const member of ENSEMBLE_MEMBERS) {
    const text = await fourLetters(member, 'cons');
    for (const sid of text.matchAll(/sid=0x([0-9a-f]+)/g)) if (BigInt(`0x${sid[1]}`) === wanted) return member;
  }
  return undefined;
}

/** Starts the ensemble (scripts/services) unless all three members serve; true when it started any. */
export async function ensureEnsemble(): Promise<boolean> {
  const modes = await ensembleModes();
  if (Object.keys(modes).length === ENSEMBLE_MEMBERS.length) return false;
  await runServices(['up', 'zookeeper-ensemble']);
  return true;
}

/** Waits until all three members serve again, one of them leading; the time it took, ms. */
export async function waitForQuorumOfThree(timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  await waitFor(
    async () => {
      const modes = Object.values(await ensembleModes());
      return modes.length === 3 && modes.filter((m) => m === 'leader').length === 1;
    },
    { timeoutMs, intervalMs: 100, what: 'all three ZooKeeper members serving' },
  );
  return Date.now() - started;
}
