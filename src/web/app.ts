import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Registry } from 'prom-client';
import type { ReloadResult } from '../config/store.js';
import type { ClusterEvent } from '../evaluate/events.js';
import type { Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import { exposition } from '../metrics/render.js';
import { BufferPool } from '../metrics/text-buffer.js';
import { assets } from './assets.js';
import { renderClusters, renderPage } from './page.js';
import { SnapshotCache, type Recycle, type Render } from './snapshot-cache.js';

export interface AppDeps {
  /** The judgement of the latest round (Monitor.snapshot). */
  readonly snapshot: () => Snapshot;
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
  readonly guard?: (req: Request, res: Response, next: NextFunction) => void;
}

const gzip = promisify(gzipCallback);
// Level 1: nearly all of the gain (exposition text is repetitive) for the least CPU. Output
// in 1 MB pieces: zlib calls back to the event loop once per piece, and with the default
// 16 KB a busy loop made a 30,000-component scrape wait seconds for ~110 round trips.
const GZIP = { level: 1, chunkSize: 1 << 20 };

/** Most events one `/api/v1/events` answer holds, and the default. */
const EVENTS_LIMIT = 1000;

/**
 * The query of `/api/v1/events`: `since` in seconds since the epoch (a decimal number),
 * `cluster` a cluster name, `limit` a positive integer. Returns the reason for a 400 on a
 * malformed or repeated parameter.
 */
function eventsQuery(query: Request['query']): { sinceSeconds?: number; cluster?: string; limit: number } | string {
  const one = (name: string): string | undefined | { error: string } => {
    const v = query[name];
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : { error: `${name}: give it once, as a plain value` };
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

/** Builds the HTTP app; listening is main's job, so tests run it on port 0. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  if (deps.guard) app.use(deps.guard);
  const cache = new SnapshotCache(deps.snapshot, deps.snapshotVersion, deps.snapshotMaxAgeMs ?? 1000);
  /**
   * Sends a shared rendering, gzipped (level 1, off the main thread) for clients that ask,
   * as Prometheus does: at 30,000 components 32 MB of text become 1.8 MB. A plain body
   * counts as read until the response has been handed to the socket (`finished`), so that
   * `recycle` gets it only once nothing reads it.
   */
  const sendRendering = async (req: Request, res: Response, type: string, format: string, render: Render, recycle?: Recycle): Promise<void> => {
    const gzipped = Boolean(req.headers['accept-encoding']) && req.acceptsEncodings('gzip', 'identity') === 'gzip';
    const send = async (body: Buffer): Promise<void> => {
      res.set({ 'Content-Type': type, 'Content-Length': String(body.length), Vary: 'Accept-Encoding' });
      if (gzipped) res.set('Content-Encoding', 'gzip');
      res.end(body);
      // Rejects when the client goes away before the end: then the body is not recycled.
      await finished(res);
    };
    try {
      if (gzipped) await send(await cache.derived(format, render, 'gzip', (plain) => gzip(plain, GZIP), recycle));
      else await cache.use(format, render, send, recycle);
    } catch (err) {
      // Once the answer has started, an error can only be the client leaving: nothing to answer.
      if (!res.headersSent) throw err;
    }
  };

  // The exposition's memory (35 MB at 30,000 components) is reused from one scrape to the next.
  const textPool = new BufferPool();
  app.get(deps.telemetryPath ?? '/metrics', async (req, res) => {
    await sendRendering(req, res, deps.ownRegistry.contentType, 'metrics', (s) => exposition(s, deps.ownRegistry, textPool), (body) => textPool.give(body));
  });

  app.get('/-/healthy', (_req, res) => {
    res.type('text/plain').send('Healthy.\n');
  });

  app.get('/-/ready', (_req, res) => {
    if (deps.ready()) res.type('text/plain').send('Ready.\n');
    else res.status(503).type('text/plain').send('Not ready: not every component has been probed yet.\n');
  });

  app.post('/-/reload', async (_req, res) => {
    const result = await deps.reload();
    if (result.ok) res.type('text/plain').send(result.changed ? 'Reloaded.\n' : 'Unchanged.\n');
    else res.status(500).type('text/plain').send(`Reload failed; the running configuration is kept.\n${result.error}\n`);
  });

  app.get('/api/v1/status', async (req, res) => {
    await sendRendering(req, res, 'application/json; charset=utf-8', 'status', (data) => Buffer.from(JSON.stringify({ status: 'success', data })));
  });

  app.get('/api/v1/events', (req, res) => {
    const query = eventsQuery(req.query);
    res.set('Cache-Control', 'no-store');
    if (typeof query === 'string') {
      res.status(400).json({ status: 'error', errorType: 'bad_data', error: query });
      return;
    }
    res.json({ status: 'success', data: { events: deps.events(query) } });
  });

  app.get('/', (req, res) => {
    const opts = { grafanaUrl: deps.grafanaUrl, alertmanagerUrl: deps.alertmanagerUrl };
    const snapshot = cache.snapshot();
    const body = req.query['fragment'] === 'clusters' ? renderClusters(snapshot, opts) : renderPage(snapshot, opts);
    res.set('Content-Security-Policy', CSP).set('Cache-Control', 'no-store').type('html').send(body.value);
  });

  // Browsers ask for it on pages without an icon link (the JSON answers): not a 404 in their console.
  app.get('/favicon.ico', (_req, res) => {
    const icon = assets['favicon.svg']!;
    res.type(icon.type).set('Cache-Control', 'max-age=300').send(icon.body);
  });

  app.get('/static/:name', (req, res) => {
    const asset = assets[req.params['name'] ?? ''];
    if (!asset) {
      res.status(404).type('text/plain').send('Not found.\n');
      return;
    }
    res.type(asset.type).set('Cache-Control', 'max-age=300').send(asset.body);
  });

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found.\n');
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'request failed');
    res.status(500).type('text/plain').send('Internal error.\n');
  });

  return app;
}
