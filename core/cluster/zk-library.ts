/**
 * What Tunnel needs of node-zookeeper-client beyond its API: its create modes and watch event types by
 * name, and closing a raw client in whatever state it is in.
 */
import zookeeper from 'node-zookeeper-client';
import type { Client } from 'node-zookeeper-client';
import type { Logger } from '../log/index.ts';
import type { CreateModeName, WatchEventType } from './zk-protocol.ts';

const { CreateMode, State } = zookeeper;

export const MODES: Record<CreateModeName, number> = {
  persistent: CreateMode.PERSISTENT,
  ephemeral: CreateMode.EPHEMERAL,
  persistent_sequential: CreateMode.PERSISTENT_SEQUENTIAL,
  ephemeral_sequential: CreateMode.EPHEMERAL_SEQUENTIAL,
};

export function watchType(t: number): WatchEventType {
  switch (t) {
    case 1:
      return 'created';
    case 2:
      return 'deleted';
    case 3:
      return 'dataChanged';
    default:
      return 'childrenChanged';
  }
}

/**
 * Close a raw client in whatever state it is in. Connected: a clean close (the server deletes the
 * session's ephemeral nodes at once). Otherwise the close makes the client stop reconnecting; the
 * session, if still alive on the server, expires on its own.
 */
export async function closeClient(client: Client, log: Logger): Promise<void> {
  const cm = (client as unknown as { connectionManager?: { socket?: unknown; state?: number } }).connectionManager;
  const connected = client.getState() === State.SYNC_CONNECTED || client.getState() === State.CONNECTED_READ_ONLY;
  await new Promise<void>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve();
    };
    // The library emits no event once closed; watch its state, and give up waiting after a while.
    const timer = setTimeout(finish, connected ? 2000 : 0);
    const poll = setInterval(() => {
      if (cm?.state === -2 /* CLOSED */ || done) {
        clearInterval(poll);
        finish();
      }
    }, 20);
    try {
      if (cm && cm.socket === undefined) setImmediate(() => client.close());
      else client.close();
    } catch (err) {
      log.debug({ err }, 'closing a zookeeper client failed');
      finish();
    }
  });
  client.removeAllListeners();
}
