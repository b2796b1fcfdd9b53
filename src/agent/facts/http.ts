import { z } from 'zod';
import { PROBE_KINDS } from '../../config/schema.js';
import { readTlsFiles } from '../../config/tls-files.js';
import { nonEmptyText } from '../../config/yaml-schema.js';
import { exchange, oneOffAgent, urlTarget, type Endpoint } from '../../probes/http-exchange.js';
import { failure } from '../../probes/reasons.js';
import { tlsOptions } from '../../probes/tls.js';
import { duration } from '../fields.js';
import { elapsedSeconds } from './elapsed.js';
import type { FactKind } from './types.js';

const DEFAULT_TIMEOUT_MS = 5_000;

const schema = z
  .strictObject({
    url: nonEmptyText()
      .refine((url) => /^https?:\/\/[^/?#]/i.test(url) && URL.canParse(url), {
        error: (iss) => `must be an http:// or https:// URL, got "${String(iss.input)}"`,
      })
      .meta({ description: 'An http:// or https:// URL, as is (no template).' }),
    timeout: duration(60_000).optional().meta({ description: 'Longest the request may take, at most 1m. Default 5s.' }),
    // The exporter's own `tls` declaration: one set of TLS settings across both files.
    tls: PROBE_KINDS.http.shape.tls,
  })
  .meta({ description: 'A local health URL, passed through: {state, httpStatus, seconds, reason}; the body is never read.' });

/**
 * `http`: a local health URL, passed through (`url`, `timeout` default 5s, `tls` as in the
 * exporter's probes). Reports `{state, httpStatus, seconds, reason}`: `up` for a 2xx
 * answer, the status code and the time to the answer's headers; on no answer, `httpStatus`
 * null and a reason from the exporter's closed set. The body is never read or served.
 */
export const httpFact: FactKind<typeof schema> = {
  schema,
  build(settings, ctx, invalid) {
    const { url } = settings;
    const timeoutMs = settings.timeout ?? DEFAULT_TIMEOUT_MS;
    const tls = settings.tls ? readTlsFiles(settings.tls, ctx.baseDir, (field, message) => invalid(['tls', field], message)) : undefined;
    // No keep-alive: a health check every few seconds need not hold a connection open.
    const { secure, host, port, path } = urlTarget(url);
    const agent = oneOffAgent(secure, tlsOptions(tls));
    // The body is never read: drop() closes the connection as soon as the head is in.
    const endpoint: Endpoint = { secure, agent, oneOff: agent, request: { host, port, path, method: 'GET' }, bodyLimit: 0 };
    return async () => {
      const started = performance.now();
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await exchange(endpoint, signal);
        const seconds = elapsedSeconds(started);
        res.drop();
        const up = res.status >= 200 && res.status < 300;
        return { state: up ? 'up' : 'down', httpStatus: res.status, seconds, reason: up ? null : 'http_status' };
      } catch (err) {
        return { state: 'down', httpStatus: null, seconds: elapsedSeconds(started), reason: failure(err, signal).reason ?? 'error' };
      }
    };
  },
};
