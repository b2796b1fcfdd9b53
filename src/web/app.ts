import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCallback } from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import type { ReloadResult } from '../config/store.js';
import type { ClusterEvent } from '../evaluate/events.js';
import type { Judgement } from '../evaluate/evaluate.js';
import type { Logger } from '../log.js';
import { expectedSize, exposition, streamExposition, type Sink } from '../metrics/render.js';
import { BufferPool } from '../metrics/text-buffer.js';
import { assets } from './assets.js';
import { acceptsGzip, AnswerClosed, handler, send, sendJson, sendText, StreamedAnswer, type Guard, type Request, type Response, type Route } from './http.js';
import { renderClusters, renderPage } from './page.js';
import { SnapshotCache, type Recycle, type Render } from './snapshot-cache.js';

export interface AppDeps {
  /** The judgement of the latest round (Monitor.judgement). */
  readonly judgement: () => Judgement;
  /**
   * Changes with every round of results and every reload, failed ones too: a snapshot is
   * shared only while it holds (Monitor.sequence).
   */
  readonly snapshotVersion: () => unknown;
  /** How long requests share one snapshot and its renderings at most (default 1 s; 0: never). */
  readonly snapshotMaxAgeMs?: number;
  /** Recent events, newest first (Monitor.events). */
  readonly events: (opts: { sinceSeconds?: number; cluster?: string; limit: number }) => readonly ClusterEvent[];
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
}

const gzip = promisify(gzipCallback);
// Level 1: nearly all of the gain (exposition text is repetitive) for the least CPU. Output
// in 1 MB pieces: zlib calls back to the event loop once per piece, and with the default
// 16 KB a busy loop made a 30,000-component scrape wait seconds for ~110 round trips.
const GZIP = { level: 1, chunkSize: 1 << 20 };

/**
 * Text per part of a gzipped scrape: 4 MiB. The compressor calls back once per part, on the
 * event loop, which at 30,000 components is busy with probes: with 1 MiB parts a scrape
 * waited for 40 such turns and took 2 s.
 */
const GZIP_PART_BYTES = 4 << 20;
/** Plain scrapes of one round streamed each for its client; later ones share a whole rendering. */
const STREAMED_PER_ROUND = 2;
/**
 * Plain scrapes are streamed only when the text is expected to be larger than this (8 MiB,
 * about 6,000 components). Below it the whole text costs little memory (4 MB at 3,000
 * components), and a whole rendering serves every client of the round: streamed ones are
 * written once per client, on the event loop the probes share.
 */
const STREAM_ABOVE_BYTES = 8 << 20;
const GZIPPED = { 'Content-Encoding': 'gzip', Vary: 'Accept-Encoding' };
const PLAIN = { Vary: 'Accept-Encoding' };

/**
 * A scrape gzipped as it is written (`streamExposition` into the compressor, which works off
 * the main thread): at 30,000 components 40.6 MB of text become 1.8 MB, and the text is
 * never whole in memory.
 */
async function gzipExposition(judgement: Judgement, own: Registry, pool: BufferPool): Promise<Buffer> {
  const zip = createGzip(GZIP);
  const out: Buffer[] = [];
  zip.on('data', (chunk: Buffer) => out.push(chunk));
  const ended = finished(zip);
  // Awaited below; when the writing fails first, the compressor is destroyed and this rejects unheard.
  ended.catch(() => undefined);
  // The compressor calls back once it has read a part: its memory is free then.
  const write = (part: Buffer): Promise<void> => new Promise((resolve, reject) => zip.write(part, (err) => (err ? reject(err) : resolve())));
  const sink: Sink = {
    take: write,
    end: (part) => {
      const written = write(part);
      zip.end();
      return written;
    },
  };
  try {
    await streamExposition(judgement, own, sink, pool, GZIP_PART_BYTES);
    await ended;
  } finally {
    zip.destroy();
  }
  return Buffer.concat(out);
}

/** Thrown when the client went away before its answer was sent (see `SnapshotCache.use`). */
const clientGone = new Error('client went away');

/** Most events one `/api/v1/events` answer holds, and the default. */
const EVENTS_LIMIT = 1000;

/**
 * The query of `/api/v1/events`: `since` in seconds since the epoch (a decimal number),
 * `cluster` a cluster name, `limit` a positive integer. Returns the reason for a 400 on a
 * malformed or repeated parameter.
 */
function eventsQuery(query: URLSearchParams): { sinceSeconds?: number; cluster?: string; limit: number } | string {
  const one = (name: string): string | undefined | { error: string } => {
    const v = query.getAll(name);
    if (v.length === 0) return undefined;
    return v.length === 1 ? v[0] : { error: `${name}: give it once, as a plain value` };
  };
  const since = one('since');
  const cluster = one('cluster');
  const limit = one('limit');
  for (const v of [since, cluster, limit]) if (typeof v === 'object') return v.error;
  const shown = (v: string) => JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  let sinceSeconds: number | undefined;
  if (typeof since === 'string') {
    if (!/^\d{1,12}(\.\d{1,9})?$/.test(since)) return `since: ${shown(since)} is not a time in seconds since the epoch (e.g. 1795443131.364)`;
    sinceSeconds = Number(since);
  }
  let n = EVENTS_LIMIT;
  if (typeof limit === 'string') {
    if (!/^\d{1,6}$/.test(limit) || Number(limit) < 1 || Number(limit) > EVENTS_LIMIT) return `limit: ${shown(limit)} is not a whole number from 1 to ${EVENTS_LIMIT}`;
    n = Number(limit);
  }
  return { ...(sinceSeconds !== undefined ? { sinceSeconds } : {}), ...(typeof cluster === 'string' ? { cluster } : {}), limit: n };
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
 * Builds the HTTP request handler (for `http.createServer`); listening is the caller's job,
 * so tests run it on port 0. Routes: the telemetry path (default /metrics), /-/healthy,
 * /-/ready, POST /-/reload, /api/v1/status, /api/v1/events, the status page (/) and its
 * assets (/static/NAME, /favicon.ico).
 */
export function createApp(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const cache = new SnapshotCache(deps.judgement, deps.snapshotVersion, deps.snapshotMaxAgeMs ?? 1000);
  /** Sends a body; resolves once it has been handed to the socket, rejects with `clientGone` when the client went away first. */
  type SendBody = (bytes: Buffer) => Promise<void>;
  /**
   * Answers with the body that `get` passes to its `SendBody` (a shared rendering). A body
   * counts as read until the response has been handed to the socket (`finished`), so that
   * a rendering's `recycle` gets it only once nothing reads it.
   */
  const sendShared = async (res: Response, type: string, headers: Record<string, string>, get: (sendBody: SendBody) => Promise<void>): Promise<void> => {
    const sendBody: SendBody = async (bytes) => {
      send(res, 200, type, bytes, headers);
      // Rejects when the client goes away before the end: then the body is not recycled.
      await finished(res).catch(() => {
        throw clientGone;
      });
    };
    try {
      await get(sendBody);
    } catch (err) {
      // Nothing to answer. Any other error is the handler's (a 500).
      if (err !== clientGone) throw err;
    }
  };
  /**
   * Sends the shared `format` rendering, gzipped (level 1, off the main thread) for clients
   * that ask, as Prometheus does.
   */
  const sendRendering = async (req: Request, res: Response, type: string, format: string, render: Render<Judgement>, recycle?: Recycle): Promise<void> => {
    if (acceptsGzip(req)) {
      await sendShared(res, type, GZIPPED, async (sendBody) => sendBody(await cache.derived(format, render, 'gzip', (plain) => gzip(plain, GZIP), recycle)));
    } else {
      await sendShared(res, type, PLAIN, (sendBody) => cache.use(format, render, sendBody, recycle));
    }
  };

  const own = deps.ownRegistry;
  // A whole exposition's memory (4 MB at 3,000 components, 41 MB at 30,000) is reused from
  // one scrape to the next while such scrapes keep coming, and given back after a minute
  // without. Small ones too (from 64 KiB), and the two part buffers of a streamed one are
  // always kept: a new buffer per scrape is garbage V8 frees only at its next collection,
  // which in a quiet process comes late (at 300 components, 0.5 MB per scrape piled up).
  const textPool = new BufferPool(1, 64 << 10, 60_000);
  const partPool = new BufferPool(2, 0);
  /** A streamed scrape is being written: a plain one in the meantime gets the shared rendering. */
  let streaming = false;
  /**
   * `/metrics`. A plain GET of a large text (above STREAM_ABOVE_BYTES) is streamed
   * (`streamExposition`): written part by part while the client reads, it takes 2 MiB where
   * the whole text takes 41 MB at 30,000 components. One at a time, two per round at most
   * (a scrape that comes right after another, a second scraper), and none once the round
   * has a whole rendering. Gzip (Prometheus asks for it) is streamed into the compressor
   * the same way, and the result shared by every gzip scrape of the round. Other plain
   * scrapes (a smaller text, many clients at once), HEAD and HTTP/1.0 share one whole
   * rendering: however many clients ask, a round costs at most four renderings, and under a
   * crowd of plain scrapes at most two.
   */
  const metrics = async (req: Request, res: Response): Promise<void> => {
    const type = own.contentType;
    if (acceptsGzip(req)) {
      await sendShared(res, type, GZIPPED, (sendBody) => cache.use('metrics+gzip', (judgement) => gzipExposition(judgement, own, partPool), sendBody));
      return;
    }
    // HEAD gets the Content-Length a GET would; an HTTP/1.0 answer has no chunks, so one
    // cut short would look whole: both get the whole rendering.
    // A whole rendering of the round means clients come at once: they share it.
    if (
      req.method !== 'GET' ||
      req.httpVersion === '1.0' ||
      streaming ||
      cache.rendered('metrics') ||
      expectedSize(cache.snapshot()) <= STREAM_ABOVE_BYTES ||
      !cache.claim('metrics:streamed', STREAMED_PER_ROUND)
    ) {
      const render = (judgement: Judgement) => exposition(judgement, own, textPool);
      await sendShared(res, type, PLAIN, (sendBody) => cache.use('metrics', render, sendBody, (body) => textPool.give(body)));
      return;
    }
    streaming = true;
    try {
      await streamExposition(cache.snapshot(), own, new StreamedAnswer(res, 200, type, PLAIN), partPool);
    } catch (err) {
      // The client went away or stalled: nothing to answer. Any other error is the
      // handler's: a 500, or once part of the answer went out, a closed connection.
      if (!(err instanceof AnswerClosed)) throw err;
    } finally {
      streaming = false;
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
        const result = await deps.reload();
        if (result.ok) sendText(res, 200, result.changed ? 'Reloaded.\n' : 'Unchanged.\n');
        else sendText(res, 500, `Reload failed; the running configuration is kept.\n${result.error}\n`);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/status',
      handle: (req, res) => sendRendering(req, res, 'application/json; charset=utf-8', 'status', (judgement) => Buffer.from(JSON.stringify({ status: 'success', data: judgement.snapshot() }))),
    },
    {
      method: 'GET',
      path: '/api/v1/events',
      handle: (req, res) => {
        const query = eventsQuery(req.query);
        if (typeof query === 'string') sendJson(res, 400, { status: 'error', errorType: 'bad_data', error: query }, { 'Cache-Control': 'no-store' });
        else sendJson(res, 200, { status: 'success', data: { events: deps.events(query) } }, { 'Cache-Control': 'no-store' });
      },
    },
    {
      method: 'GET',
      path: '/',
      handle: (req, res) => {
        const opts = { grafanaUrl: deps.grafanaUrl, alertmanagerUrl: deps.alertmanagerUrl };
        const snapshot = cache.snapshot().snapshot();
        const body = req.query.get('fragment') === 'clusters' ? renderClusters(snapshot, opts) : renderPage(snapshot, opts);
        send(res, 200, 'text/html; charset=utf-8', body.value, { 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
      },
    },
    // Browsers ask for it on pages without an icon link (the JSON answers): not a 404 in their console.
    { method: 'GET', path: '/favicon.ico', handle: (_req, res) => sendAsset(res, assets['favicon.svg']!) },
    ...Object.entries(assets).map(([name, asset]): Route => ({ method: 'GET', path: `/static/${name}`, handle: (_req, res) => sendAsset(res, asset) })),
  ];
  return handler(routes, { guard: deps.guard, logger: deps.logger });
}

function sendAsset(res: Response, asset: { readonly type: string; readonly body: string | Buffer }): void {
  send(res, 200, asset.type, asset.body, { 'Cache-Control': 'max-age=300' });
}
