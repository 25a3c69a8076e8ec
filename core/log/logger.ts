import { pino, type Logger } from 'pino';

export type { Logger };

/** Field names whose values are secrets: pino replaces them before anything is written. */
const SECRET_KEYS = ['password', 'passwd', 'apiKey', 'api_key', 'secret', 'token', 'authorization', 'auth', 'credentials'];
const redactPaths = SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines for a terminal; JSON lines otherwise. */
  pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.TUNNEL_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.TUNNEL_LOG_FORMAT !== 'json');
  return pino({
    level,
    redact: { paths: redactPaths, censor: '[redacted]' },
    base: { pid: process.pid },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}

/** A logger that drops everything, for tests and library use without logging. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
