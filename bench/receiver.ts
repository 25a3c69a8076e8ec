// The webhook receiver of the benchmark: a real node:http server in a process of its own (so its
// parsing does not take CPU time from the Tunnel worker's event loop; on 2 cores it shares the
// machine with the worker and the servers all the same). It verifies every signature, parses every
// body and counts rows and distinct ids.
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
    const body = JSON.parse(raw.toString('utf8')) as Array<{ rows: Array<Array<{ column: string; value?: unknown; after?: unknown }>> }>;
    for (const event of body) {
      events++;
      for (const row of event.rows) {
        rows++;
        const cell = row[0]!;
        ids.add(Number(cell.value ?? cell.after));
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
  if (m.type === 'stats') process.send!({ type: 'stats', rows, events, requests, badSignatures, distinctIds: ids.size });
  else if (m.type === 'reset') {
    rows = events = requests = badSignatures = 0;
    ids = new Set();
    process.send!({ type: 'reset' });
  }
});
process.on('disconnect', () => process.exit(0));
