import type { ConnectionOptions } from 'node:tls';
import type { TlsOptions } from '../config/types.js';

/** Node's TLS connection options for a probe's `tls` settings. */
export function tlsOptions(t: TlsOptions | undefined): ConnectionOptions | undefined {
  if (!t) return undefined;
  return {
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.cert ? { cert: t.cert } : {}),
    ...(t.key ? { key: t.key.reveal() } : {}),
    ...(t.serverName ? { servername: t.serverName } : {}),
    rejectUnauthorized: !t.insecureSkipVerify,
  };
}
