import type { ProbeReason } from '../reasons.js';
import type { Answer, ProbeSignal } from './types.js';

/**
 * A failure a probe judged itself (a body over its limit, a coding it cannot decode),
 * thrown inside the probe and turned into its result by `failure`. `detail` follows
 * Answer's rule: exporter-written words, bounded.
 */
export class ProbeFailure extends Error {
  constructor(
    readonly reason: ProbeReason,
    readonly detail: string,
  ) {
    super(detail);
  }
}

/**
 * Error codes that name their reason. Each is raised by Node 20's HTTP client or sockets
 * and, but for ETIMEDOUT, produced on loopback in test/integration/reasons.test.ts.
 * Response parser errors (`HPE_*`, llhttp's) are handled apart: see `parserFailure`.
 */
const CODE_REASONS: Record<string, ProbeReason> = {
  ECONNREFUSED: 'connection_refused',
  // A reset, or a close before any answer ("socket hang up").
  ECONNRESET: 'connection_reset',
  // Writing a request to a connection the server has closed (Linux: a reset in CLOSE_WAIT).
  EPIPE: 'connection_reset',
  // The kernel gave up connecting (about 2 min on Linux, tcp_syn_retries 6): only under a
  // probe_timeout that long. The one entry the test does not produce, as it takes those
  // two minutes.
  ETIMEDOUT: 'timeout',
  // No route to the network (a missing route, an interface down) or to the host (a
  // powered-off host on the same network: ARP goes unanswered; an `unreachable` route; an
  // ICMP host-unreachable). Produced in test/integration/unreachable.test.ts in a network
  // namespace of its own.
  ENETUNREACH: 'network_unreachable',
  EHOSTUNREACH: 'host_unreachable',
};

/**
 * TLS alerts a server sends about the client's certificate (RFC 8446 6.2; Node names a
 * received alert `ERR_SSL_<version>_ALERT_<name>`): the server refused the exporter's
 * credentials, which says nothing about the component (`unauthorized`). A handshake_failure
 * alert is left to `tls`: it also means no common cipher or version.
 */
const CLIENT_CERT_ALERT = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(?:BAD_CERTIFICATE|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|CERTIFICATE_EXPIRED|CERTIFICATE_UNKNOWN|UNKNOWN_CA|ACCESS_DENIED|CERTIFICATE_REQUIRED)$/;
/** The same alerts in OpenSSL's words, as an EPROTO error carries them. */
const CLIENT_CERT_ALERT_WORDS = /^(?:sslv3|tlsv1|tlsv13) alert (?:bad certificate|unsupported certificate|certificate revoked|certificate expired|certificate unknown|unknown ca|access denied|certificate required)$/;

/**
 * Certificate verification codes, as Node names OpenSSL's X509_V_ERR_* values
 * (nodejs/node src/crypto/crypto_common.cc, X509ErrorCode; "UNSPECIFIED" for the rest).
 * Other TLS failures carry an ERR_TLS_*, ERR_SSL_* or ERR_OSSL_* code.
 */
const X509_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_CRL', 'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE', 'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY', 'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE', 'CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD', 'ERROR_IN_CERT_NOT_AFTER_FIELD', 'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD', 'OUT_OF_MEM', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_CHAIN_TOO_LONG', 'CERT_REVOKED',
  'INVALID_CA', 'PATH_LENGTH_EXCEEDED', 'INVALID_PURPOSE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'HOSTNAME_MISMATCH',
  'UNSPECIFIED',
]);
const TLS_PREFIX = /^ERR_(TLS|SSL|OSSL)_/;

/**
 * An answer that is not HTTP/1.1 (a bad header name, a control byte, a bad chunk size,
 * headers over the limit): llhttp's error, as Node raises it with an `HPE_*` code and
 * llhttp's own words in `reason`, a fixed set, not server text.
 */
function parserFailure(code: string, reason: unknown): Answer {
  if (code === 'HPE_HEADER_OVERFLOW') return { success: false, reason: 'bad_body', detail: 'headers over 16 KiB' };
  const words = typeof reason === 'string' && /^[\w ./,'-]{1,60}$/.test(reason) ? reason : undefined;
  return { success: false, reason: 'bad_body', detail: words ? `not HTTP/1.1: ${words}` : 'not HTTP/1.1' };
}

/**
 * Maps an error thrown by a socket, Node's HTTP client or the probe itself to a reason from the closed
 * set (src/metrics/catalogue.ts), following `cause` chains. After the deadline every error
 * is `timeout`; anything unknown is `error` with its Node error code (`ERR_*`) or class
 * name as detail.
 */
export function failure(err: unknown, signal: ProbeSignal): Answer {
  if (err instanceof ProbeFailure) return { success: false, reason: err.reason, detail: err.detail };
  if (signal.aborted) return { success: false, reason: 'timeout', detail: 'deadline exceeded' };
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const { code, syscall } = e as { code?: unknown; syscall?: unknown };
    // Every failed name lookup (ENOTFOUND, EAI_AGAIN, EAI_FAIL, ...) comes from getaddrinfo.
    if (syscall === 'getaddrinfo') return { success: false, reason: 'dns', detail: typeof code === 'string' ? code : 'getaddrinfo' };
    if (typeof code !== 'string') continue;
    if (code.startsWith('HPE_')) return parserFailure(code, (e as { reason?: unknown }).reason);
    // The exporter's own open files ran out (per process, or the whole system's): not the server's failure.
    if (code === 'EMFILE' || code === 'ENFILE') return { success: false, reason: 'error', detail: code, exporterFault: 'open_files' };
    // OpenSSL's record layer refused the answer (plain HTTP on an https:// URL): its own words.
    if (code === 'EPROTO') {
      const words = /SSL routines:[^:]*:([a-z0-9 ]{1,60}):/.exec(e.message)?.[1];
      // A TLS 1.2 alert arrives so, in OpenSSL's words ("tlsv1 alert unknown ca").
      const reason = words !== undefined && CLIENT_CERT_ALERT_WORDS.test(words) ? 'unauthorized' : 'tls';
      return { success: false, reason, detail: words ? `EPROTO: ${words}` : 'EPROTO' };
    }
    if (CLIENT_CERT_ALERT.test(code)) return { success: false, reason: 'unauthorized', detail: code };
    const reason = CODE_REASONS[code] ?? (X509_CODES.has(code) || TLS_PREFIX.test(code) ? 'tls' : undefined);
    if (reason) return { success: false, reason, detail: code };
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^ERR_[A-Z_]{1,60}$/.test(code)) return { success: false, reason: 'error', detail: code };
  const name = err instanceof Error ? err.name : typeof err;
  return { success: false, reason: 'error', detail: name };
}

/** Bounds text that came from a server before it is kept. */
export function clip(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
