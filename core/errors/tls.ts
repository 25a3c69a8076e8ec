/**
 * TLS failures as a person reads them: which of the usual reasons (an untrusted CA, another host
 * name, an expired certificate, no TLS on the server) an error from Node's TLS layer, mysql2 or
 * ioredis stands for. Used by every client that connects with TLS (the source, the Redis sink), so
 * that a refused certificate is one clear TlsError naming the server instead of a retried "lost
 * connection".
 */
import { TlsError } from './errors.ts';

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/**
 * Node's messages for the verification failures, for clients that replace the error's code with
 * their own (mysql2 gives every failed handshake the code HANDSHAKE_SSL_ERROR and Node's message).
 */
const CODE_OF_MESSAGE: Array<[RegExp, string]> = [
  [/self[- ]signed certificate in certificate chain/i, 'SELF_SIGNED_CERT_IN_CHAIN'],
  [/self[- ]signed certificate/i, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
  [/unable to verify the first certificate/i, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
  [/unable to get (local )?issuer certificate/i, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'],
  [/certificate signature failure/i, 'CERT_SIGNATURE_FAILURE'],
  [/certificate has expired/i, 'CERT_HAS_EXPIRED'],
  [/certificate is not yet valid/i, 'CERT_NOT_YET_VALID'],
  [/does not match certificate's altnames/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
];

/** Why TLS failed, in words, or undefined when `error` is not a TLS failure. */
export function tlsFailureReason(error: unknown): string | undefined {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  const message = typeof e?.message === 'string' ? e.message : '';
  const given = typeof e?.code === 'string' ? e.code : '';
  const code = given === 'HANDSHAKE_SSL_ERROR' ? (CODE_OF_MESSAGE.find(([pattern]) => pattern.test(message))?.[1] ?? given) : given;
  const detail = `${message}${code && !message.includes(code) ? ` (${code})` : ''}`;
  if (UNTRUSTED.has(code)) return `its certificate is not signed by a trusted CA: ${detail}; check the \`ca\` option`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `its certificate is not valid now: ${detail}`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `its certificate is for another host name: ${detail}; connect by a name it lists, or set \`servername\``;
  if (code === 'HANDSHAKE_NO_SSL_SUPPORT') return `the server does not support TLS: ${detail}`;
  if (code === 'HANDSHAKE_SSL_ERROR') return `the TLS handshake failed: ${detail}`;
  if (code.startsWith('ERR_SSL_') || /wrong version number|ssl3_get_record|packet length too long/i.test(message)) {
    return `the TLS handshake failed (is TLS enabled on this port?): ${detail}`;
  }
  return undefined;
}

/** A TlsError for a connection to `server` (e.g. "MariaDB 127.0.0.1:3306"), or undefined when `error` is not a TLS failure. */
export function tlsError(server: string, error: unknown): TlsError | undefined {
  const reason = tlsFailureReason(error);
  return reason === undefined ? undefined : new TlsError(`TLS connection to ${server} refused: ${reason}`, { server }, { cause: error });
}
