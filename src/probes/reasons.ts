import type { ProbeReason } from '../metrics/catalogue.js';
import type { Answer } from './types.js';

const CODE_REASONS: Record<string, ProbeReason> = {
  ECONNREFUSED: 'connection_refused',
  ECONNRESET: 'connection_reset',
  EPIPE: 'connection_reset',
  UND_ERR_SOCKET: 'connection_reset',
  UND_ERR_CLOSED: 'connection_reset',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_ABORTED: 'timeout',
  ABORT_ERR: 'timeout',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'body_too_large',
  UND_ERR_HEADERS_OVERFLOW: 'bad_body',
  HPE_HEADER_OVERFLOW: 'bad_body',
};

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_|HOSTNAME_MISMATCH)/;

/** Maps an error thrown by a socket or undici to a reason, following `cause` chains. */
export function failure(err: unknown, signal: AbortSignal): Answer {
  if (signal.aborted) return { success: false, reason: 'timeout', detail: 'deadline exceeded' };
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    const reason = CODE_REASONS[code] ?? (TLS_CODE.test(code) ? 'tls' : code.startsWith('HPE_') ? 'bad_body' : undefined);
    if (reason) return { success: false, reason, detail: code };
  }
  const name = err instanceof Error ? err.name : typeof err;
  return { success: false, reason: 'error', detail: name };
}

/** Bounds text that came from a server before it is kept. */
export function clip(text: string, max = 120): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
