#!/usr/bin/env -S node --max-semi-space-size=16
// Development only: the `tunnel` command from the TypeScript sources of this repository, under tsx
// (tests, the demo and `npm run tunnel -- <command>` use it). The package's bin is the build,
// dist/bin/tunnel.js, which needs no TypeScript loader.
import { register } from 'tsx/esm/api';

register();
await import('./tunnel.ts');
