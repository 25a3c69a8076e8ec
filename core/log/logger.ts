import { pino, type DestinationStream, type Logger } from 'pino';
import { REDACTED, SECRET_FIELD_NAMES } from '../redact/index.ts';

export type { Logger };

/** Secret fields (up to four levels deep) are replaced by pino before anything is written. */
const redactPaths = SECRET_FIELD_NAMES.flatMap((name) => {
  const key = /^\w+$/.test(name) ? `.${name}` : `["${name}"]`;
  return ['', '*', '*.*', '*.*.*'].map((prefix) => (prefix === '' ? key.replace(/^\./, '') : prefix + key));
});

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines for a terminal; JSON lines otherwise. */
  pretty?: boolean;
  /** Where JSON lines go instead of stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.TUNNEL_LOG_LEVEL ?? 'info';
  const pretty = !options.destination && (options.pretty ?? (process.stdout.isTTY === true && process.env.TUNNEL_LOG_FORMAT !== 'json'));
  const settings = {
    level,
    redact: { paths: redactPaths, censor: REDACTED },
    base: { pid: process.pid },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}

/** A logger that drops everything, for tests and library use without logging. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
