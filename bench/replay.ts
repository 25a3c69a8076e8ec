// A bare-sink baseline of the benchmark: the request bodies a Tunnel catch-up sent (recorded by
// bench/lib/recorder.ts), loaded into memory first, then sent again to the same server with no CDC in
// front, with the sink's own client and concurrency: Elasticsearch bulks through
// @elastic/elasticsearch's transport, `lanes` in flight; webhook POSTs with fetch, one at a time,
// signed afresh before the clock starts (the receiver refuses signatures older than 5 minutes).
// Speaks the decode counters' protocol (bench/peers/protocol.ts), so the driver measures its CPU time
// and peak RSS the same way.
//
//   node --import tsx bench/replay.ts '{"sink":"elasticsearch","capture":"<prefix>","url":"http://...","lanes":2}'
import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signatureHeader } from '../sinks/http/signature.ts';
import { fail, sayDoneAndWait, sayStart } from './peers/protocol.ts';
import type { RecordedRequest } from './lib/recorder.ts';

interface Args {
  sink: 'elasticsearch' | 'webhook';
  /** The capture's path prefix (<prefix>.json and <prefix>.bin). */
  capture: string;
  url: string;
  lanes: number;
  secret?: string;
}

const args = JSON.parse(process.argv[2]!) as Args;
const requests = JSON.parse(readFileSync(`${args.capture}.json`, 'utf8')) as RecordedRequest[];
const all = readFileSync(`${args.capture}.bin`);
const bodies = requests.map((r) => all.subarray(r.offset, r.offset + r.length));

type Send = (i: number) => Promise<void>;
let send: Send;
let close = async () => {};
if (args.sink === 'elasticsearch') {
  const es = new Client({ node: args.url, requestTimeout: 60_000 });
  close = () => es.close();
  send = async (i) => {
    const r = requests[i]!;
    const url = new URL(r.path, 'http://x');
    const res = (await es.transport.request(
      { method: r.method, path: url.pathname, querystring: Object.fromEntries(url.searchParams), bulkBody: bodies[i]! },
      { meta: false },
    )) as { errors?: boolean };
    if (res.errors) throw new Error(`bulk request ${i} had item errors`);
  };
} else {
  if (!args.secret) fail('replay', new Error('the webhook replay needs the secret'));
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = requests.map((r, i) => ({
    ...r.headers,
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: signatureHeader([args.secret!], timestamp, bodies[i]!),
  }));
  send = async (i) => {
    const res = await fetch(args.url, { method: 'POST', headers: headers[i]!, body: bodies[i]!, redirect: 'manual' });
    await res.text();
    if (!res.ok) throw new Error(`POST ${i}: HTTP ${res.status}`);
  };
}

sayStart();
const started = performance.now();
let next = 0;
const lane = async () => {
  while (next < requests.length) await send(next++);
};
try {
  await Promise.all(Array.from({ length: args.lanes }, lane));
} catch (error) {
  fail('replay', error);
}
const ms = performance.now() - started;
await close();
const rows = requests.reduce((a, r) => a + r.rows, 0);
sayDoneAndWait({ rows, ms, rowsEvents: requests.length });
