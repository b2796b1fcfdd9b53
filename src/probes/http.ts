import { Agent, Client, request } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';
import { readSecret } from '../config/secrets.js';
import { extract, needsJson, parseExtraction, type Extraction } from './extract.js';
import { failure } from './reasons.js';
import { checkTemplate, expandUrl, templateFields, TemplateError } from './template.js';
import { parseTls } from './tls.js';
import type { ProbeKind, ProbeResult } from './types.js';

const DEFAULT_BODY_LIMIT = 1024 * 1024;

const METHODS = ['GET', 'HEAD', 'POST'] as const;

interface HttpSettings {
  readonly method: (typeof METHODS)[number];
  readonly headers: Record<string, string>;
  readonly validStatus: (status: number) => boolean;
  readonly bodyLimit: number;
  readonly extraction: Extraction;
}

/**
 * `http`: requests a URL built from the server's fields and judges the answer. The
 * caller's deadline covers the whole exchange, body included; the body is read up to a
 * limit and never further.
 */
export const httpProbe: ProbeKind = (r, ctx) => {
  const url = r.requiredString('url');
  const problem = checkTemplate(url);
  if (problem) throw r.error('url', problem);
  // The scheme is never a template field; whether the rest makes a URL depends on each
  // server's fields and is checked as each server is bound.
  if (!/^https?:\/\/[^/?#]/i.test(url)) throw r.error('url', `must be an http:// or https:// URL, got "${url}"`);
  const headers = r.stringMap('headers');
  const basic = r.map('basic_auth');
  if (basic) {
    const username = basic.requiredString('username');
    const password = readSecret(basic, 'password', ctx.baseDir) ?? '';
    basic.finish();
    headers['authorization'] = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  const token = readSecret(r, 'bearer_token', ctx.baseDir);
  if (token !== undefined) {
    if (basic) throw r.error('bearer_token_file', 'set basic_auth or a bearer token, not both');
    headers['authorization'] = `Bearer ${token}`;
  }
  const codes = r.scalarList('valid_status_codes');
  if (codes?.some((c) => typeof c !== 'number' || !Number.isInteger(c) || c < 100 || c > 599)) {
    throw r.error('valid_status_codes', 'must be a list of HTTP status codes (100-599)');
  }
  const tls = parseTls(r.map('tls'), ctx.baseDir);
  const settings: HttpSettings = {
    method: r.oneOf('method', METHODS) ?? 'GET',
    headers,
    validStatus: codes ? (s) => codes.includes(s) : (s) => s >= 200 && s < 300,
    bodyLimit: r.size('body_size_limit') ?? DEFAULT_BODY_LIMIT,
    extraction: parseExtraction(r.map('extract')),
  };
  r.finish();
  // When the URL's origin names the server ({address}, {name}, ...), each server is its own
  // origin and a probe never runs twice at once on it: one Client per origin, not undici's
  // default Pool with its 2048-slot request queue (16 KB) each. An origin shared by all
  // servers (a management console) gets a Pool, so probes of different servers run side by
  // side; its connections are bounded by the probe concurrency and always kept alive.
  const perServerOrigin = templateFields(originOf(url)).length > 0;
  const agent = new Agent({
    ...(perServerOrigin ? { factory: (origin: string, opts: object) => new Client(origin, opts) } : {}),
    connect: { ...tls },
    keepAliveMaxTimeout: 60_000,
    maxResponseSize: settings.bodyLimit,
  });
  return {
    bind: (server) => {
      const target = expandUrl(url, server);
      if (!URL.canParse(target)) throw new TemplateError(`url "${url}" gives "${target}", which is not a URL`);
      // An idle keep-alive connection per server costs one file descriptor: reuse
      // connections for as many as the open-file limit allows, no more.
      const reuse = perServerOrigin ? ctx.claimKeepAlive() : true;
      return (signal) => runHttp(agent, target, settings, ctx.hashKey, signal, reuse);
    },
    close: () => agent.close(),
  };
};

/** The scheme and authority of a URL template: what decides the connection it uses. */
function originOf(url: string): string {
  return /^[a-z]+:\/\/[^/?#]*/i.exec(url)?.[0] ?? url;
}

async function runHttp(
  agent: Agent,
  url: string,
  s: HttpSettings,
  hashKey: (raw: string) => string,
  signal: AbortSignal,
  reuse: boolean,
): Promise<ProbeResult> {
  try {
    const res = await request(url, { method: s.method, headers: s.headers, dispatcher: agent, signal, reset: !reuse });
    if (!s.validStatus(res.statusCode)) {
      discard(res.body);
      return { success: false, reason: 'http_status', detail: `HTTP ${res.statusCode}` };
    }
    if (!needsJson(s.extraction)) {
      discard(res.body);
      return extract(s.extraction, undefined, res.headers, hashKey);
    }
    const declared = Number(res.headers['content-length']);
    if (declared > s.bodyLimit) {
      discard(res.body);
      return { success: false, reason: 'body_too_large', detail: `content-length ${declared}` };
    }
    // The agent's maxResponseSize stops the body at the limit (UND_ERR_RES_EXCEEDED_MAX_SIZE).
    const body = await res.body.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return { success: false, reason: 'bad_body', detail: 'not JSON' };
    }
    return extract(s.extraction, parsed, res.headers as IncomingHttpHeaders, hashKey);
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
