import { formatPosition, isBinlogPosition } from '../event/position.ts';

/**
 * One error class per kind, each with a stable `code` (BullMQ/Fastify style), so operators can
 * match on codes in logs and scripts while messages stay free to improve.
 */
export abstract class TunnelError extends Error {
  abstract readonly code: `TUNNEL_ERR_${string}`;
  /** Extra structured detail for logs; never holds secrets. */
  readonly detail: Record<string, unknown>;

  constructor(message: string, detail: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.detail = detail;
  }
}

/** The configuration failed validation; `message` names the field path, the value and what was expected. */
export class ConfigError extends TunnelError {
  readonly code = 'TUNNEL_ERR_CONFIG';
}

/** A plugin threw; wraps the cause with the plugin, hook, task and the event's position. */
export class PluginError extends TunnelError {
  readonly code = 'TUNNEL_ERR_PLUGIN';
  constructor(
    readonly plugin: string,
    readonly hook: string,
    readonly task: string,
    cause: unknown,
    detail: Record<string, unknown> = {},
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const where = isBinlogPosition(detail.position) ? ` at ${formatPosition(detail.position)}` : '';
    super(`plugin "${plugin}" failed in hook "${hook}" of task "${task}"${where}: ${reason}`, detail, { cause });
  }
}

/** The binlog source cannot go on (lost connection past retries, compressed events, bad decode). */
export class SourceError extends TunnelError {
  readonly code = 'TUNNEL_ERR_SOURCE';
}

/**
 * Binlog bytes that cannot be decoded: a column type Tunnel has no decoder for, a malformed length.
 * The source reports it as a SourceError at the binlog position where it happened, with this as its
 * cause.
 */
export class DecodeError extends TunnelError {
  readonly code = 'TUNNEL_ERR_DECODE';
}

/** The stored position names a binlog file the server no longer has; never silently skipped. */
export class PositionUnavailableError extends TunnelError {
  readonly code = 'TUNNEL_ERR_POSITION_UNAVAILABLE';
}

/**
 * The server a task would continue on lacks transactions the task already read (and may have
 * delivered): it was promoted without them, or has diverged. Continuing there would leave their
 * changes in the sinks and nowhere in the database; never silently skipped.
 */
export class SourceDivergedError extends TunnelError {
  readonly code = 'TUNNEL_ERR_SOURCE_DIVERGED';
}

/**
 * A TLS connection was refused: the server's certificate is not signed by the configured CA, names
 * another host, has expired, or the server does not speak TLS. The message names the server.
 */
export class TlsError extends TunnelError {
  readonly code = 'TUNNEL_ERR_TLS';
}

/** A stored position could not be parsed. */
export class PositionFormatError extends TunnelError {
  readonly code = 'TUNNEL_ERR_POSITION_FORMAT';
}

/** A sink failed in a way the runtime cannot retry (e.g. it could not start). */
export class SinkError extends TunnelError {
  readonly code = 'TUNNEL_ERR_SINK';
}

/** The task stopped at a schema change: its policy is `stop`, or a sink cannot apply it. */
export class SchemaChangeError extends TunnelError {
  readonly code = 'TUNNEL_ERR_SCHEMA_CHANGE';
}

/** A worker's status endpoint could not be read (`tunnel status`, the position commands). */
export class StatusError extends TunnelError {
  readonly code = 'TUNNEL_ERR_STATUS';
}

/** A payload could not be encoded as JSON (a value JSON cannot hold, such as a BigInt a plugin put in a row). */
export class SerializeError extends TunnelError {
  readonly code = 'TUNNEL_ERR_SERIALIZE';
}

/** ZooKeeper coordination failed, or this worker lost ownership of a task. */
export class ClusterError extends TunnelError {
  readonly code = 'TUNNEL_ERR_CLUSTER';
}

/** A position write was refused because another worker now owns the task (fencing). */
export class FencedError extends TunnelError {
  readonly code = 'TUNNEL_ERR_FENCED';
}

/** The operation was aborted by shutdown or loss of ownership. */
export class AbortedError extends TunnelError {
  readonly code = 'TUNNEL_ERR_ABORTED';
}
