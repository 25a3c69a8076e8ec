#!/usr/bin/env node
// The `tunnel` command. The installed package runs its build, dist/bin/tunnel.js, with plain node:
// no TypeScript compiler at start. In Tunnel's own repository bin/tunnel.js runs this file from source.
import { main } from '../core/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
