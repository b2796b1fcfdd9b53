import { Agent, Client, request } from 'undici';
import type { HttpEndpoint } from '../config/types.js';
import { failure } from './reasons.js';
import { tlsOptions } from './tls.js';
import type { Answer, ProbeKind } from './types.js';

interface HttpSettings {
  readonly method: HttpEndpoint['method'];
  readonly headers: Record<string, string>;
  readonly validStatus: (status: number) => boolean;
  readonly bodyLimit: number;
}

/**
 * `http`: requests a URL (filled in per server by the loader) and hands its answer to the
 * components that read it. The caller's deadline covers the whole exchange, body
 * included; the body is read up to a limit and never further.
 */
export const httpProbe: ProbeKind<HttpEndpoint> = (e, ctx) => {
  const headers: Record<string, string> = { ...e.headers };
  if (e.authorization) headers['authorization'] = e.authorization.reveal();
  const codes = e.validStatusCodes;
  const settings: HttpSettings = {
    method: e.method,
    headers,
    validStatus: codes ? (s) => codes.includes(s) : (s) => s >= 200 && s < 300,
    bodyLimit: e.bodySizeLimit,
  };
  // When the URL's origin names the server ({address}, {name}, ...), each server is its own
  // origin and a probe never runs twice at once on it: one Client per origin, not undici's
  // default Pool with its 2048-slot request queue (16 KB) each. An origin shared by all
  // servers (a management console) gets a Pool, so probes of different servers run side by
  // side; its connections are bounded by the probe concurrency and always kept alive.
  const agent = new Agent({
    ...(e.perServerOrigin ? { factory: (origin: string, opts: object) => new Client(origin, opts) } : {}),
    connect: { ...tlsOptions(e.tls) },
    keepAliveMaxTimeout: 60_000,
    maxResponseSize: settings.bodyLimit,
  });
  return {
    bind: (target, needsJson) => {
      if (!('url' in target)) throw new Error('http probe bound to a host and port');
      // An idle keep-alive connection per server costs one file descriptor: reuse
      // connections for as many as the open-file limit allows, no more.
      const reuse = e.perServerOrigin ? ctx.claimKeepAlive() : true;
      return (signal) => runHttp(agent, target.url, settings, needsJson, signal, reuse);
    },
    close: () => agent.close(),
  };
};

async function runHttp(agent: Agent, url: string, s: HttpSettings, needsJson: boolean, signal: AbortSignal, reuse: boolean): Promise<Answer> {
  try {
    const res = await request(url, { method: s.method, headers: s.headers, dispatcher: agent, signal, reset: !reuse });
    if (!s.validStatus(res.statusCode)) {
      discard(res.body);
      return { success: false, reason: 'http_status', detail: `HTTP ${res.statusCode}` };
    }
    if (!needsJson) {
      discard(res.body);
      return { success: true, headers: res.headers };
    }
    const declared = Number(res.headers['content-length']);
    if (declared > s.bodyLimit) {
      discard(res.body);
      return { success: false, reason: 'body_too_large', detail: `content-length ${declared}` };
    }
    // The agent's maxResponseSize stops the body at the limit (UND_ERR_RES_EXCEEDED_MAX_SIZE).
    const text = await res.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { success: false, reason: 'bad_body', detail: 'not JSON' };
    }
    return { success: true, body, headers: res.headers };
  } catch (err) {
    return failure(err, signal);
  }
}

interface Discardable {
  on(event: 'error', listener: () => void): unknown;
  destroy(): void;
}

/** Drops a body we will not read; a late abort of the request must not surface as an unhandled error. */
function discard(body: Discardable): void {
  body.on('error', () => {});
  body.destroy();
}
