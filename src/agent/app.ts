import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../log.js';
import type { Collector } from './collector.js';
import type { AgentMetrics } from './metrics.js';

/** Where the facts document is served. */
export const FACTS_PATH = '/api/v1/facts';

export interface AgentAppDeps {
  readonly collector: Collector;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  /** Runs before every route (TLS client certificates, basic auth: `--web.config.file`). */
  readonly guard?: (req: Request, res: Response, next: NextFunction) => void;
}

/**
 * The agent's HTTP app: the facts document, its own metrics and `/-/healthy`. No route
 * takes a parameter: what is read is fixed by the configuration, never by a request.
 */
export function createAgentApp(deps: AgentAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.use((_req, res, next) => {
    res.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  if (deps.guard) app.use(deps.guard);

  app.get(FACTS_PATH, async (_req, res) => {
    const doc = await deps.collector.document();
    res.set('Cache-Control', 'no-store').type('application/json; charset=utf-8').send(JSON.stringify(doc));
  });

  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get('/-/healthy', (_req, res) => {
    res.type('text/plain').send('Healthy.\n');
  });

  app.get('/', (_req, res) => {
    res.type('text/plain').send(`appcluster-exporter agent\n\n  ${FACTS_PATH}   the facts document (JSON)\n  /metrics        the agent's own metrics\n  /-/healthy      200 while it runs\n`);
  });

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found.\n');
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: err instanceof Error ? err.name : 'error' }, 'request failed');
    res.status(500).type('text/plain').send('Internal error.\n');
  });

  return app;
}
