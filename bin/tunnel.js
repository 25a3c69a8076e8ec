#!/usr/bin/env node
// Tunnel runs TypeScript (its own code and the user's tunnel.config.ts) without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../core/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
