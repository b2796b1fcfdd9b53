import { Agent, request } from 'undici';
import { failure } from '../../probes/reasons.js';
import { parseTls } from '../../probes/tls.js';
import { elapsedSeconds } from './elapsed.js';
import type { FactKind } from './types.js';

const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * `http`: a local health URL, passed through (`url`, `timeout` default 5s, `tls` as in the
 * exporter's probes). Reports `{state, httpStatus, seconds, reason}`: `up` for a 2xx
 * answer, the status code and the time to the answer's headers; on no answer, `httpStatus`
 * null and a reason from the exporter's closed set. The body is never read or served.
 */
export const httpFact: FactKind = (r, ctx) => {
  const url = r.requiredString('url');
  if (!/^https?:\/\/[^/?#]/i.test(url) || !URL.canParse(url)) throw r.error('url', `must be an http:// or https:// URL, got "${url}"`);
  const timeoutMs = r.duration('timeout', 60_000) ?? DEFAULT_TIMEOUT_MS;
  const tls = parseTls(r.map('tls'), ctx.baseDir);
  r.finish();
  // No keep-alive: a health check every few seconds need not hold a connection open.
  const agent = new Agent({ connect: { ...tls } });
  return async () => {
    const started = performance.now();
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request(url, { method: 'GET', dispatcher: agent, signal, reset: true });
      const seconds = elapsedSeconds(started);
      res.body.on('error', () => {});
      res.body.destroy();
      const up = res.statusCode >= 200 && res.statusCode < 300;
      return { state: up ? 'up' : 'down', httpStatus: res.statusCode, seconds, reason: up ? null : 'http_status' };
    } catch (err) {
      return { state: 'down', httpStatus: null, seconds: elapsedSeconds(started), reason: failure(err, signal).reason ?? 'error' };
    }
  };
};
