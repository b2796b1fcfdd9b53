import type { Agent as HttpAgent } from 'node:http';
import type { HttpEndpoint, PrometheusEndpoint } from '../config/types.js';
import { decodeText } from './charset.js';
import { ACCEPT_ENCODING, agentsFor, exchange, urlTarget, type Endpoint } from './http-exchange.js';
import { failure } from './reasons.js';
import { tlsOptions } from './tls.js';
import type { Answer, EndpointProbe, PreparedEndpoint, ProbeContext, ProbeKind } from './types.js';

interface HttpSettings {
  readonly method: HttpEndpoint['method'];
  /** Sent as they are; Accept-Encoding added unless configured. */
  readonly headers: Record<string, string>;
  /** Sent as written (POST only, checked by the loader). */
  readonly body?: string;
  readonly validStatus: (status: number) => boolean;
  /** Most bytes of the decoded body. */
  readonly bodyLimit: number;
}

/**
 * `http`: requests a URL (filled in per server by the loader) and hands its answer to the
 * components that read it. The caller's deadline covers the whole exchange, body
 * included, and a retry when a kept-alive connection was closed under the request (see
 * `exchange`); the body is decoded (gzip, deflate, br) up to a limit on its decoded bytes
 * and never further, then read as text in its charset (see `decodeText`).
 */
export const httpProbe: ProbeKind<HttpEndpoint> = (e, ctx) => httpKind(e, ctx, parseJson);

/**
 * What a body is read as for the components, once some component reads it: the parsed
 * body (given as text, decoded by its byte order mark or declared charset), or the words
 * of a `bad_body` failure (exporter-written, no server text).
 */
export type BodyParser = (text: string) => { readonly body: unknown } | { readonly problem: string };

const parseJson: BodyParser = (text) => {
  try {
    return { body: JSON.parse(text) as unknown };
  } catch {
    return { problem: 'not JSON' };
  }
};

/**
 * An HTTP probe kind whose answers' bodies are read by `parse` (JSON for `http`, the text
 * exposition for `prometheus`): everything but the reading of the body is the http probe's.
 */
export function httpKind(e: HttpEndpoint | PrometheusEndpoint, ctx: ProbeContext, parse: BodyParser): PreparedEndpoint {
  const headers: Record<string, string> = { ...e.headers };
  if (e.authorization) headers['authorization'] = e.authorization.reveal();
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'accept-encoding')) headers['accept-encoding'] = ACCEPT_ENCODING;
  const codes = e.validStatusCodes;
  const settings: HttpSettings = {
    method: e.method,
    headers,
    ...(e.kind === 'http' && e.body !== undefined ? { body: e.body } : {}),
    validStatus: codes ? (s) => codes.includes(s) : (s) => s >= 200 && s < 300,
    bodyLimit: e.bodySizeLimit,
  };
  // One set of agents for every server's probe of this endpoint. An origin shared by all
  // servers (a management console) gets a pool of kept-alive connections, bounded by the
  // probe concurrency. A server's own origin keeps its connection between probes over TLS
  // as the open-file limit allows, where a new connection costs a handshake, many times the
  // CPU of a request on a kept connection. Over plain HTTP, the first 1,024 server origins
  // keep theirs (PLAIN_KEEP_ALIVE) and the rest connect afresh for each probe, as
  // blackbox_exporter does: a kept connection saves a little CPU per probe but holds a file
  // descriptor and some memory per server. The figures are in bench/RESULTS.md.
  // The probe's deadline bounds connecting, the head and the body: no timer of the HTTP
  // client cuts a long probe_timeout short.
  // The scheme is known per server (a template may fill it in): agents per scheme, made on first use.
  const made = new Map<boolean, ReturnType<typeof agentsFor>>();
  const agentsOf = (secure: boolean): ReturnType<typeof agentsFor> => {
    let agents = made.get(secure);
    if (!agents) made.set(secure, (agents = agentsFor(secure, tlsOptions(e.tls))));
    return agents;
  };
  return {
    bind: (target, needsJson) => {
      if (!('url' in target)) throw new Error('http probe bound to a host and port');
      // An idle connection per server costs one file descriptor: the budget says which keep one.
      const keepAlive = (secure: boolean): boolean => !e.perServerOrigin || ctx.claimKeepAlive(secure);
      return probeOf(endpointOf(target.url, settings, agentsOf, keepAlive), settings, needsJson ? parse : undefined);
    },
    close: async () => {
      for (const agents of made.values()) {
        agents.keepAlive.destroy();
        agents.oneOff?.destroy();
      }
    },
  };
}

/** The request of one server's probe, built once: the URL (checked by the loader) is parsed at bind time. */
function endpointOf(
  url: string,
  s: HttpSettings,
  agentsOf: (secure: boolean) => { keepAlive: HttpAgent; oneOff: HttpAgent | undefined },
  reuse: (secure: boolean) => boolean,
): Endpoint {
  const { secure, host, port, path } = urlTarget(url);
  const { keepAlive, oneOff } = agentsOf(secure);
  return {
    secure,
    agent: reuse(secure) ? keepAlive : oneOff,
    oneOff,
    request: { host, port, path, method: s.method, headers: s.headers },
    ...(s.body !== undefined ? { body: s.body } : {}),
    bodyLimit: s.bodyLimit,
  };
}

/** One server's probe; `parse` reads the body, when some component reads it. */
function probeOf(endpoint: Endpoint, s: HttpSettings, parse: BodyParser | undefined): EndpointProbe {
  return async (signal): Promise<Answer> => {
    try {
      const res = await exchange(endpoint, signal);
      // The handshake was accepted: its certificate's expiry holds whatever the answer says.
      const cert = res.certNotAfterMs === undefined ? {} : { certNotAfterMs: res.certNotAfterMs };
      try {
        if (!s.validStatus(res.status)) {
          // Credentials refused prove the server up and say nothing of the component (src/reasons.ts, unknownReasons).
          const reason = res.status === 401 || res.status === 403 ? 'unauthorized' : 'http_status';
          return { success: false, reason, detail: `HTTP ${res.status}`, ...cert };
        }
        if (!parse) return { success: true, headers: res.headers, ...cert };
        const parsed = parse(decodeText(await res.body(), res.headers['content-type']));
        if ('problem' in parsed) return { success: false, reason: 'bad_body', detail: parsed.problem, ...cert };
        return { success: true, body: parsed.body, headers: res.headers, ...cert };
      } catch (err) {
        return { ...failure(err, signal), ...cert };
      } finally {
        res.drop();
      }
    } catch (err) {
      return failure(err, signal);
    }
  };
}
