import { Agent, Client } from 'undici';
import { readSecret } from '../config/secrets.js';
import { extract, needsJson, parseExtraction, type Extraction } from './extract.js';
import { ACCEPT_ENCODING, exchange, type Endpoint } from './http-exchange.js';
import { failure } from './reasons.js';
import { checkTemplate, expandUrl, templateFields, TemplateError } from './template.js';
import { parseTls } from './tls.js';
import type { Probe, ProbeKind } from './types.js';

const DEFAULT_BODY_LIMIT = 1024 * 1024;

const METHODS = ['GET', 'HEAD', 'POST'] as const;

interface HttpSettings {
  readonly method: (typeof METHODS)[number];
  /** Sent as they are; Accept-Encoding added unless configured. */
  readonly headers: Record<string, string>;
  readonly validStatus: (status: number) => boolean;
  /** Most bytes of the decoded body. */
  readonly bodyLimit: number;
  readonly extraction: Extraction;
}

/**
 * `http`: requests a URL built from the server's fields and judges the answer. The
 * caller's deadline covers the whole exchange, body included, and a retry when a kept-alive
 * connection was closed under the request (see `exchange`); the body is decoded
 * (gzip, deflate, br) up to a limit on its decoded bytes and never further.
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
  if (!Object.keys(headers).some((name) => name.toLowerCase() === 'accept-encoding')) headers['accept-encoding'] = ACCEPT_ENCODING;
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
  // The probe's deadline bounds the wait for headers and body: undici's own timers (300 s)
  // are off, so they never cut a long probe_timeout short. Connecting keeps undici's 10 s.
  const clientOptions: Client.Options = { connect: { ...tls }, keepAliveMaxTimeout: 60_000, headersTimeout: 0, bodyTimeout: 0 };
  const agent = new Agent({
    ...(perServerOrigin ? { factory: (origin: string, opts: object) => new Client(origin, opts) } : {}),
    ...clientOptions,
  });
  return {
    bind: (server) => {
      const target = expandUrl(url, server);
      if (!URL.canParse(target)) throw new TemplateError(`url "${url}" gives "${target}", which is not a URL`);
      // An idle keep-alive connection per server costs one file descriptor: reuse
      // connections for as many as the open-file limit allows, no more.
      const reuse = perServerOrigin ? ctx.claimKeepAlive() : true;
      return probeOf(endpointOf(target, settings, agent, clientOptions, reuse), settings, ctx.hashKey);
    },
    close: () => agent.close(),
  };
};

/** The scheme and authority of a URL template: what decides the connection it uses. */
function originOf(url: string): string {
  return /^[a-z]+:\/\/[^/?#]*/i.exec(url)?.[0] ?? url;
}

/**
 * The request of one server's probe, built once: the URL is parsed at bind time, not on
 * every probe. A URL that does not parse fails every probe with `error`.
 */
function endpointOf(url: string, s: HttpSettings, dispatcher: Agent, clientOptions: Client.Options, reuse: boolean): Endpoint | undefined {
  if (!URL.canParse(url)) return undefined;
  const { origin, pathname, search } = new URL(url);
  return {
    dispatcher,
    clientOptions,
    request: { origin, path: `${pathname}${search}`, method: s.method, headers: s.headers, reset: !reuse },
    bodyLimit: s.bodyLimit,
  };
}

function probeOf(endpoint: Endpoint | undefined, s: HttpSettings, hashKey: (raw: string) => string): Probe {
  if (!endpoint) return () => Promise.resolve({ success: false, reason: 'error', detail: 'invalid URL' });
  return async (signal) => {
    try {
      const res = await exchange(endpoint, signal);
      try {
        if (!s.validStatus(res.status)) return { success: false, reason: 'http_status', detail: `HTTP ${res.status}` };
        if (!needsJson(s.extraction)) return extract(s.extraction, undefined, res.headers, hashKey);
        const body = await res.body();
        let parsed: unknown;
        try {
          parsed = JSON.parse(utf8.decode(body));
        } catch {
          return { success: false, reason: 'bad_body', detail: 'not JSON' };
        }
        return extract(s.extraction, parsed, res.headers, hashKey);
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
