import type { Logger } from '../log.js';
import { createWebApp, send, sendText, type Guard } from '../web/shell.js';
import type { Collector } from './collector.js';
import type { AgentMetrics } from './metrics.js';

/** Where the facts document is served. */
export const FACTS_PATH = '/api/v1/facts';

export interface AgentAppDeps {
  readonly collector: Collector;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  /** Runs before every route (TLS client certificates, basic auth: `--web.config.file`). */
  readonly guard?: Guard;
}

/**
 * The agent's express app (served by `serve`): the facts document, its own
 * metrics and `/-/healthy`. No route takes a parameter: what is read is fixed by the
 * configuration, never by a request (a query string is ignored).
 */
export function createAgentApp(deps: AgentAppDeps): ReturnType<typeof createWebApp> {
  return createWebApp(
    [
      {
        method: 'GET',
        path: FACTS_PATH,
        handle: async (_req, res) => {
          const doc = await deps.collector.document();
          send(res, 200, 'application/json; charset=utf-8', JSON.stringify(doc), { 'Cache-Control': 'no-store' });
        },
      },
      {
        method: 'GET',
        path: '/metrics',
        handle: async (_req, res) => send(res, 200, deps.metrics.registry.contentType, await deps.metrics.registry.metrics()),
      },
      { method: 'GET', path: '/-/healthy', handle: (_req, res) => sendText(res, 200, 'Healthy.\n') },
      {
        method: 'GET',
        path: '/',
        handle: (_req, res) =>
          sendText(res, 200, `appcluster-exporter agent\n\n  ${FACTS_PATH}   the facts document (JSON)\n  /metrics        the agent's own metrics\n  /-/healthy      200 while it runs\n`),
      },
    ],
    // The name only: a fact's error could quote what it read.
    { guard: deps.guard, logger: deps.logger, describe: (err) => (err instanceof Error ? err.name : 'error') },
  );
}
