import type { Socket } from 'node:net';
import { TLSSocket, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { TlsOptions } from '../config/types.js';
import type { Answer } from './types.js';

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

/** The notAfter of each connection's leaf certificate, read once per connection (a kept-alive one serves many probes). */
const notAfterOf = new WeakMap<TLSSocket, number | undefined>();

/**
 * When the leaf certificate a TLS connection was served expires, in ms since the epoch
 * (blackbox_exporter's `probe_ssl_earliest_cert_expiry` reads the same field, though over
 * the whole chain). Undefined for a plain socket, before the handshake, or for a date
 * OpenSSL did not print as `Mon DD HH:MM:SS YYYY GMT`. The chain's CA certificates are left
 * out: their expiry is the operator's trust store's business, and a renewed leaf is what
 * an alert should ask for.
 */
export function certNotAfterMs(socket: Socket | undefined): number | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  if (notAfterOf.has(socket)) return notAfterOf.get(socket);
  // Node documents getPeerCertificate() as returning {} when the peer sent no certificate.
  const validTo = (socket.getPeerCertificate() as Partial<PeerCertificate>).valid_to;
  if (validTo === undefined) return undefined;
  // OpenSSL's ASN1_TIME_print format always ends in "GMT": the time zone of the process plays no part.
  const ms = /^[A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2} \d{4} GMT$/.test(validTo) ? Date.parse(validTo) : NaN;
  const known = Number.isFinite(ms) ? ms : undefined;
  notAfterOf.set(socket, known);
  return known;
}

/** The answer with the expiry of the leaf certificate `socket` was served, when it is a TLS connection. */
export function withCert(answer: Answer, socket: Socket | undefined): Answer {
  const notAfter = certNotAfterMs(socket);
  return notAfter === undefined ? answer : { ...answer, certNotAfterMs: notAfter };
}
