#!/usr/bin/env -S node --max-semi-space-size=16
// The `tunnel` command. The installed package runs its build, dist/bin/tunnel.js, with plain node:
// no TypeScript compiler at start. In Tunnel's own repository bin/tunnel.js runs this file from source.
//
// The shebang's --max-semi-space-size=16 keeps V8's young generation at 16 MB a half, Node 20's
// default: Node 22 and 24 let it grow to 64 MB a half, which a worker decoding a backlog fills with
// short-lived rows and keeps, ~130 MB more resident memory for no throughput
// (docs/operations.md, "Memory"). It is the one home of the worker's Node flags: `npx tunnel`, a
// package's bin link and ./node_modules/.bin/tunnel run it; `node …/tunnel.js` must pass it itself.
import { main } from '../core/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
