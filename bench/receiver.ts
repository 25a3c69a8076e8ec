// The webhook receiver of the benchmark: a real node:http server in a process of its own (so its
// parsing does not take CPU time from the Tunnel worker's event loop; on 2 cores it shares the
// machine with the worker and the servers all the same). It verifies every signature, parses every
// body, counts rows by action and distinct ids, and keeps the set of ids that exist (inserted or
// updated, not deleted since): what a receiver mirroring the table would hold.
//
//   node --import tsx bench/receiver.ts   (IPC: sends {type:'ready', url}; answers {type:'stats'} and {type:'reset'})
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhookSignature } from '../sinks/http/index.ts';
import { BENCH } from './lib/common.ts';

let rows = 0;
let events = 0;
let requests = 0;
let badSignatures = 0;
let ids = new Set<number>();
let live = new Set<number>();
let actions = { insert: 0, update: 0, delete: 0 };

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    requests++;
    const raw = Buffer.concat(chunks);
    if (!verifyWebhookSignature(BENCH.webhookSecret, req.headers, raw, 300)) {
      badSignatures++;
      return void res.writeHead(401).end('bad signature');
    }
    type Cell = { column: string; value?: unknown; after?: unknown };
    const body = JSON.parse(raw.toString('utf8')) as Array<{ action: 'insert' | 'update' | 'delete'; rows: Cell[][] }>;
    for (const event of body) {
      events++;
      for (const row of event.rows) {
        rows++;
        actions[event.action]++;
        const cell = row[0]!; // the key is the first column of the bench's tables
        const id = Number(cell.value ?? cell.after);
        ids.add(id);
        if (event.action === 'delete') live.delete(id);
        else live.add(id);
      }
    }
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const port = (server.address() as AddressInfo).port;
  process.send!({ type: 'ready', url: `http://127.0.0.1:${port}/hook` });
});
process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') process.send!({ type: 'stats', rows, events, requests, badSignatures, distinctIds: ids.size, liveIds: live.size, actions });
  else if (m.type === 'reset') {
    rows = events = requests = badSignatures = 0;
    ids = new Set();
    live = new Set();
    actions = { insert: 0, update: 0, delete: 0 };
    process.send!({ type: 'reset' });
  }
});
process.on('disconnect', () => process.exit(0));
