import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors/index.ts';
import type { TunnelConfig } from './schema.ts';

/** Identity helper that gives `tunnel.config.ts` full types and completion (Vite's defineConfig). */
export function defineConfig(config: TunnelConfig): TunnelConfig {
  return config;
}

/** A secret from an environment variable, so it never has to be written in the config file. */
export function fromEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(`environment variable ${name} is not set (the config reads a secret from it)`);
  }
  return value;
}

/** A secret from a file (e.g. a mounted Kubernetes secret); a trailing newline is dropped. */
export function fromFile(path: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new ConfigError(`cannot read secret file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}
