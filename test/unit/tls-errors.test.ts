// How TLS failures from Node, mysql2 and ioredis read as a TlsError: the reason in words and the
// server named; anything else is not a TLS failure.
import { describe, expect, it } from 'vitest';
import { TlsError, tlsError, tlsFailureReason } from '../../core/errors/index.ts';

const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('tlsError', () => {
  it("names the server and says the CA is not trusted for Node's own code (ioredis passes it on)", () => {
    const error = tlsError('Redis 127.0.0.1:6380', nodeError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'));
    expect(error).toBeInstanceOf(TlsError);
    expect(error!.code).toBe('TUNNEL_ERR_TLS');
    expect(error!.message).toBe(
      'TLS connection to Redis 127.0.0.1:6380 refused: its certificate is not signed by a trusted CA: ' +
        'self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN); check the `ca` option',
    );
    expect(error!.detail).toEqual({ server: 'Redis 127.0.0.1:6380' });
  });

  it("reads mysql2's HANDSHAKE_SSL_ERROR by Node's message", () => {
    const reason = (message: string) => tlsFailureReason(nodeError('HANDSHAKE_SSL_ERROR', message));
    expect(reason('self-signed certificate in certificate chain')).toMatch(/^its certificate is not signed by a trusted CA: .*\(SELF_SIGNED_CERT_IN_CHAIN\)/);
    expect(reason('unable to verify the first certificate')).toMatch(/^its certificate is not signed by a trusted CA/);
    expect(reason('certificate has expired')).toMatch(/^its certificate is not valid now/);
    expect(reason("Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list: 127.0.0.1")).toMatch(
      /^its certificate is for another host name/,
    );
    expect(reason('something else went wrong')).toBe('the TLS handshake failed: something else went wrong (HANDSHAKE_SSL_ERROR)');
  });

  it('leaves other errors alone', () => {
    expect(tlsError('the source database 127.0.0.1:3306', nodeError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:3306'))).toBeUndefined();
    expect(tlsError('the source database 127.0.0.1:3306', nodeError('ER_ACCESS_DENIED_ERROR', "Access denied for user 'tunnel'"))).toBeUndefined();
    expect(tlsError('x', undefined)).toBeUndefined();
  });
});
