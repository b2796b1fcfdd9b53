import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import type { Registry } from 'prom-client';
import type { ReloadResult } from '../config/store.js';
import type { Judgement } from '../evaluate/evaluate.js';
import type { Logger } from '../log.js';
import { exposition } from '../metrics/render.js';
import { CURSOR, UNKNOWN_CLUSTER, type EventPage, type EventQuery } from '../monitor/event-log.js';
import { assets } from './assets.js';
import { renderClusters, renderPage } from './page.js';
import { createWebApp, searchParams, send, sendJson, sendText, type Guard, type Route } from './shell.js';

export interface AppDeps {
  /** The judgement of the latest round, shared by the round's requests (Monitor.judgement). */
  readonly judgement: () => Judgement;
  /** Recent events after a cursor, oldest first (Monitor.events); UNKNOWN_CLUSTER for a cluster not configured. */
  readonly events: (query: EventQuery) => EventPage | typeof UNKNOWN_CLUSTER;
  readonly ready: () => boolean;
  readonly reload: () => Promise<ReloadResult>;
  /** The exporter's own, long-lived metrics. */
  readonly ownRegistry: Registry;
  readonly logger: Logger;
  readonly telemetryPath?: string;
  readonly grafanaUrl?: string;
  /** Alertmanager base URL: Offline servers link to a new silence there. */
  readonly alertmanagerUrl?: string;
  /** Runs before every route (authentication). */
  readonly guard?: Guard;
  /**
   * Most scrapes answered at once (`--web.max-requests`, default 40; 0: no limit): past it a
   * scrape is answered 503, as client_golang's promhttp `MaxRequestsInFlight` does, so that a
   * crowd of scrapers cannot take the exporter's memory and CPU from its probes.
   */
  readonly maxRequests?: number;
  /**
   * `--web.enable-lifecycle`: POST /-/reload reloads only when set, else it is answered 403
   * as Prometheus answers it (default off; SIGHUP reloads either way).
   */
  readonly enableLifecycle?: boolean;
}

/** The default of `--web.max-requests` (node_exporter's). */
export const MAX_REQUESTS = 40;

// Level 1: nearly all of the gain (exposition text is repetitive) for the least CPU. Output
// in 1 MB pieces: zlib calls back to the event loop once per piece, and with the default
// 16 KB a busy loop made a large scrape wait on many round trips.
const GZIP = { level: 1, chunkSize: 1 << 20 };

/** True when the client takes gzip over the identity encoding (Accept-Encoding, RFC 9110 §12.5.3). */
export function acceptsGzip(req: Request): boolean {
  return req.headers['accept-encoding'] !== undefined && req.acceptsEncodings('gzip', 'identity') === 'gzip';
}

/**
 * Answers 200 with `body` as a stream through `stream.pipeline`, gzipped when the client
 * asks: back-pressure from the client holds back the writing, and a client that goes away
 * stops it. A client gone before the end is not an error of ours; any other error is
 * thrown (express then closes the connection, the answer having begun).
 */
async function stream(req: Request, res: Response, type: string, body: AsyncIterable<Buffer> | Iterable<Buffer>, headers: Record<string, string> = {}): Promise<void> {
  const gzip = acceptsGzip(req);
  res.writeHead(200, { ...headers, 'Content-Type': type, Vary: 'Accept-Encoding', ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) });
  const source = Readable.from(body, { objectMode: false });
  try {
    await (gzip ? pipeline(source, createGzip(GZIP), res) : pipeline(source, res));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' && !res.writableFinished) return;
    throw err;
  }
}

/** A parameter's value as an error quotes it: clipped. */
const shown = (v: string) => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);

/** Most events one `/api/v1/events` answer holds, and the default. */
const EVENTS_LIMIT = 1000;

/**
 * The query of `/api/v1/events`: `after` a cursor (the `next` of an earlier answer),
 * `cluster` a cluster name, `limit` a positive integer. Returns the reason for a 400 on a
 * malformed or repeated parameter, and on `since`, which paged by time and lost the events
 * that shared the last time of a page.
 */
function eventsQuery(query: URLSearchParams): EventQuery | string {
  const one = (name: string): string | undefined | { error: string } => {
    const v = query.getAll(name);
    if (v.length === 0) return undefined;
    return v.length === 1 ? v[0] : { error: `${name}: give it once, as a plain value` };
  };
  if (query.has('since')) return 'since: no longer taken; ask with after=NEXT, the "next" of the previous answer (from the oldest kept without it)';
  const after = one('after');
  const cluster = one('cluster');
  const limit = one('limit');
  for (const v of [after, cluster, limit]) if (typeof v === 'object') return v.error;
  if (typeof after === 'string' && !CURSOR.test(after)) return `after: ${shown(after)} is not a cursor; give the "next" of an earlier answer`;
  let n = EVENTS_LIMIT;
  if (typeof limit === 'string') {
    if (!/^\d{1,6}$/.test(limit) || Number(limit) < 1 || Number(limit) > EVENTS_LIMIT) return `limit: ${shown(limit)} is not a whole number from 1 to ${EVENTS_LIMIT}`;
    n = Number(limit);
  }
  return { ...(typeof after === 'string' ? { after } : {}), ...(typeof cluster === 'string' ? { cluster } : {}), limit: n };
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Builds the exporter's express app; listening is the caller's job (`serve`), so tests run
 * it on port 0. Routes: the telemetry path (default /metrics), /-/healthy, /-/ready,
 * POST /-/reload, /api/v1/status, /api/v1/events, the status page (/) and its assets
 * (/static/NAME, /favicon.ico).
 */
export function createApp(deps: AppDeps): ReturnType<typeof createWebApp> {
  const own = deps.ownRegistry;
  const maxRequests = deps.maxRequests ?? MAX_REQUESTS;
  let scrapes = 0;
  /** `/metrics`: the round's judgement written as it is sent (see `exposition`). */
  const metrics = async (req: Request, res: Response): Promise<void> => {
    if (maxRequests > 0 && scrapes >= maxRequests) {
      sendText(res, 503, `Too many scrapes at once (--web.max-requests=${maxRequests}); try again later.\n`);
      return;
    }
    scrapes++;
    try {
      await stream(req, res, own.contentType, exposition(deps.judgement(), own));
    } finally {
      scrapes--;
    }
  };

  const routes: Route[] = [
    { method: 'GET', path: deps.telemetryPath ?? '/metrics', handle: metrics },
    { method: 'GET', path: '/-/healthy', handle: (_req, res) => sendText(res, 200, 'Healthy.\n') },
    {
      method: 'GET',
      path: '/-/ready',
      handle: (_req, res) => {
        if (deps.ready()) sendText(res, 200, 'Ready.\n');
        else sendText(res, 503, 'Not ready: not every component has been probed yet.\n');
      },
    },
    {
      method: 'POST',
      path: '/-/reload',
      handle: async (_req, res) => {
        if (deps.enableLifecycle !== true) {
          sendText(res, 403, 'Lifecycle API is not enabled.\n');
          return;
        }
        const result = await deps.reload();
        if (result.ok) sendText(res, 200, result.changed ? 'Reloaded.\n' : 'Unchanged.\n');
        else sendText(res, 500, `Reload failed; the running configuration is kept.\n${result.error}\n`);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/status',
      handle: (req, res) => stream(req, res, 'application/json; charset=utf-8', [Buffer.from(JSON.stringify({ status: 'success', data: deps.judgement().snapshot() }))]),
    },
    {
      method: 'GET',
      path: '/api/v1/events',
      handle: (req, res) => {
        const badData = (error: string) => sendJson(res, 400, { status: 'error', errorType: 'bad_data', error }, { 'Cache-Control': 'no-store' });
        const query = eventsQuery(searchParams(req));
        if (typeof query === 'string') return badData(query);
        const page = deps.events(query);
        if (page === UNKNOWN_CLUSTER) return badData(`cluster: ${shown(query.cluster ?? '')} is not a configured cluster`);
        sendJson(res, 200, { status: 'success', data: page }, { 'Cache-Control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: '/',
      handle: (req, res) => {
        const opts = { grafanaUrl: deps.grafanaUrl, alertmanagerUrl: deps.alertmanagerUrl };
        const snapshot = deps.judgement().snapshot();
        const body = searchParams(req).get('fragment') === 'clusters' ? renderClusters(snapshot, opts) : renderPage(snapshot, opts);
        send(res, 200, 'text/html; charset=utf-8', body.value, { 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
      },
    },
    // Browsers ask for it on pages without an icon link (the JSON answers): not a 404 in their console.
    { method: 'GET', path: '/favicon.ico', handle: (_req, res) => sendAsset(res, assets['favicon.svg']!) },
    ...Object.entries(assets).map(([name, asset]): Route => ({ method: 'GET', path: `/static/${name}`, handle: (_req, res) => sendAsset(res, asset) })),
  ];
  return createWebApp(routes, { guard: deps.guard, logger: deps.logger });
}

function sendAsset(res: ServerResponse, asset: { readonly type: string; readonly body: string | Buffer }): void {
  send(res, 200, asset.type, asset.body, { 'Cache-Control': 'max-age=300' });
}
