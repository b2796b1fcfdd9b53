import { Agent, Client } from 'undici';
import type { HttpEndpoint } from '../config/types.js';
import { ACCEPT_ENCODING, exchange, type Endpoint } from './http-exchange.js';
import { failure } from './reasons.js';
import { tlsOptions } from './tls.js';
import type { Answer, EndpointProbe, ProbeKind } from './types.js';

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
 * and never further.
 */
export const httpProbe: ProbeKind<HttpEndpoint> = (e, ctx) => {
  const headers: Record<string, string> = { ...e.headers };
  if (e.authorization) headers['authorization'] = e.authorization.reveal();
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'accept-encoding')) headers['accept-encoding'] = ACCEPT_ENCODING;
  const codes = e.validStatusCodes;
  const settings: HttpSettings = {
    method: e.method,
    headers,
    ...(e.body !== undefined ? { body: e.body } : {}),
    validStatus: codes ? (s) => codes.includes(s) : (s) => s >= 200 && s < 300,
    bodyLimit: e.bodySizeLimit,
  };
  // When the URL's origin names the server ({address}, {name}, ...), each server is its own
  // origin and a probe never runs twice at once on it: one Client per origin, not undici's
  // default Pool with its 2048-slot request queue (16 KB) each. An origin shared by all
  // servers (a management console) gets a Pool, so probes of different servers run side by
  // side; its connections are bounded by the probe concurrency and always kept alive.
  // The probe's deadline bounds the wait for headers and body: undici's own timers (300 s)
  // are off, so they never cut a long probe_timeout short. Connecting keeps undici's 10 s.
  const clientOptions: Client.Options = { connect: { ...tlsOptions(e.tls) }, keepAliveMaxTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 };
  const agent = new Agent({
    ...(e.perServerOrigin ? { factory: (origin: string, opts: object) => new Client(origin, opts) } : {}),
    ...clientOptions,
  });
  return {
    bind: (target, needsJson) => {
      if (!('url' in target)) throw new Error('http probe bound to a host and port');
      // An idle keep-alive connection per server costs one file descriptor: reuse
      // connections for as many as the open-file limit allows, no more.
      const reuse = e.perServerOrigin ? ctx.claimKeepAlive() : true;
      return probeOf(endpointOf(target.url, settings, agent, clientOptions, reuse), settings, needsJson);
    },
    close: () => agent.close(),
  };
};

/** The request of one server's probe, built once: the URL (checked by the loader) is parsed at bind time. */
function endpointOf(url: string, s: HttpSettings, dispatcher: Agent, clientOptions: Client.Options, reuse: boolean): Endpoint {
  const { origin, pathname, search } = new URL(url);
  return {
    dispatcher,
    clientOptions,
    request: { origin, path: `${pathname}${search}`, method: s.method, headers: s.headers, ...(s.body !== undefined ? { body: s.body } : {}), reset: !reuse },
    bodyLimit: s.bodyLimit,
  };
}

function probeOf(endpoint: Endpoint, s: HttpSettings, needsJson: boolean): EndpointProbe {
  return async (signal): Promise<Answer> => {
    try {
      const res = await exchange(endpoint, signal);
      try {
        if (!s.validStatus(res.status)) return { success: false, reason: 'http_status', detail: `HTTP ${res.status}` };
        if (!needsJson) return { success: true, headers: res.headers };
        const body = await res.body();
        let parsed: unknown;
        try {
          parsed = JSON.parse(utf8.decode(body));
        } catch {
          return { success: false, reason: 'bad_body', detail: 'not JSON' };
        }
        return { success: true, body: parsed, headers: res.headers };
      } finally {
        res.drop();
      }
    } catch (err) {
      return failure(err, signal);
    }
  };
}

/** Decodes UTF-8 and drops a byte order mark, as JSON bodies may start with one. */
const utf8 = new TextDecoder();
