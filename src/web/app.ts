import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { Registry } from 'prom-client';
import type { ReloadResult } from '../config/store.js';
import type { Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import { exposition } from '../metrics/render.js';
import { assets } from './assets.js';
import { renderClusters, renderPage } from './page.js';

export interface AppDeps {
  readonly snapshot: () => Snapshot;
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

  app.get(deps.telemetryPath ?? '/metrics', async (_req, res) => {
    // Sent as it is: res.send() would also hash tens of megabytes for an ETag nobody uses.
    const body = await exposition(deps.snapshot(), deps.ownRegistry);
    res.set({ 'Content-Type': deps.ownRegistry.contentType, 'Content-Length': String(body.length) }).end(body);
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

  app.get('/api/v1/status', (_req, res) => {
    res.json({ status: 'success', data: deps.snapshot() });
  });

  app.get('/', (req, res) => {
    const opts = { grafanaUrl: deps.grafanaUrl };
    const body = req.query['fragment'] === 'clusters' ? renderClusters(deps.snapshot(), opts) : renderPage(deps.snapshot(), opts);
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
