import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Registry } from 'prom-client';
import type { ReloadResult } from '../config/store.js';
import type { Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import { exposition } from '../metrics/render.js';
import { assets } from './assets.js';
import { renderClusters, renderPage } from './page.js';
import { SnapshotCache, type Render } from './snapshot-cache.js';

export interface AppDeps {
  readonly snapshot: () => Snapshot;
  /** Changes with every reload, failed ones too: a cached snapshot is not reused across it. */
  readonly configVersion: () => unknown;
  /** How long requests share one snapshot and its renderings (default 1 s; 0: never). */
  readonly snapshotMaxAgeMs?: number;
  readonly ready: () => boolean;
  readonly reload: () => Promise<ReloadResult>;
  /** The exporter's own, long-lived metrics. */
  readonly ownRegistry: Registry;
  readonly logger: Logger;
  readonly telemetryPath?: string;
  readonly grafanaUrl?: string;
  /** Runs before every route (authentication). */
  readonly guard?: (req: Request, res: Response, next: NextFunction) => void;
}

const gzip = promisify(gzipCallback);
// Level 1: nearly all of the gain (exposition text is repetitive) for the least CPU. Output
// in 1 MB pieces: zlib calls back to the event loop once per piece, and with the default
// 16 KB a busy loop made a 30,000-component scrape wait seconds for ~110 round trips.
const GZIP = { level: 1, chunkSize: 1 << 20 };

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
  const cache = new SnapshotCache(deps.snapshot, deps.configVersion, deps.snapshotMaxAgeMs ?? 1000);
  /**
   * Sends a shared rendering, gzipped (level 1, off the main thread) for clients that ask,
   * as Prometheus does: at 30,000 components 32 MB of text become 1.8 MB.
   */
  const sendRendering = async (req: Request, res: Response, type: string, format: string, render: Render): Promise<void> => {
    const gzipped = Boolean(req.headers['accept-encoding']) && req.acceptsEncodings('gzip', 'identity') === 'gzip';
    const body = gzipped
      ? await cache.derived(format, render, 'gzip', (plain) => gzip(plain, GZIP))
      : await cache.rendering(format, render);
    res.set({ 'Content-Type': type, 'Content-Length': String(body.length), Vary: 'Accept-Encoding' });
    if (gzipped) res.set('Content-Encoding', 'gzip');
    res.end(body);
  };

  app.get(deps.telemetryPath ?? '/metrics', async (req, res) => {
    await sendRendering(req, res, deps.ownRegistry.contentType, 'metrics', (s) => exposition(s, deps.ownRegistry));
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

  app.get('/', (req, res) => {
    const opts = { grafanaUrl: deps.grafanaUrl };
    const snapshot = cache.snapshot();
    const body = req.query['fragment'] === 'clusters' ? renderClusters(snapshot, opts) : renderPage(snapshot, opts);
    res.set('Content-Security-Policy', CSP).set('Cache-Control', 'no-store').type('html').send(body.value);
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
