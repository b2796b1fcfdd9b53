import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Registry } from 'prom-client';
import type { ReloadResult } from '../config/store.js';
import type { Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import { exposition } from '../metrics/render.js';
import { assets } from './assets.js';
import { renderClusters, renderPage } from './page.js';
import { SnapshotCache } from './snapshot-cache.js';

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
  const sendBytes = (res: Response, type: string, body: Buffer): void => {
    res.set({ 'Content-Type': type, 'Content-Length': String(body.length) }).end(body);
  };

  app.get(deps.telemetryPath ?? '/metrics', async (_req, res) => {
    sendBytes(res, deps.ownRegistry.contentType, await cache.rendering('metrics', (s) => exposition(s, deps.ownRegistry)));
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

  app.get('/api/v1/status', async (_req, res) => {
    const body = await cache.rendering('status', (data) => Buffer.from(JSON.stringify({ status: 'success', data })));
    sendBytes(res, 'application/json; charset=utf-8', body);
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
