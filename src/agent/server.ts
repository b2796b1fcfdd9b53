import type { Logger } from '../log.js';
import { WEB_MAX_CONNECTIONS } from '../probes/fd-budget.js';
import { serve } from '../web/shell.js';
import { loadWebConfig } from '../web/web-config.js';
import { createAgentApp } from './app.js';
import { Collector } from './collector.js';
import { loadAgentConfig } from './config.js';
import { AgentMetrics } from './metrics.js';

export interface AgentOptions {
  readonly configFile: string;
  /** `host:port`, `:port` (every interface) or `[::1]:port`. */
  readonly listenAddress: string;
  /** TLS and basic auth, in the exporter-toolkit web-config.yml format. */
  readonly webConfigFile?: string;
  /** Most connections open at once (`--web.max-connections`, default 512); past it a new one is closed at once. */
  readonly maxConnections?: number;
  readonly logger: Logger;
  /** Process metrics (CPU, memory) in `/metrics`; off in tests that run many agents in one process. */
  readonly processMetrics?: boolean;
}

export interface RunningAgent {
  readonly url: string;
  readonly collector: Collector;
  close(): Promise<void>;
}

/**
 * Loads the agent configuration and serves the facts. Throws ConfigError on a bad
 * configuration or web configuration, and `serve`'s error when the address is malformed or taken.
 */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const web = await loadWebConfig(opts.webConfigFile, { logger: opts.logger });
  const config = await loadAgentConfig(opts.configFile);
  const metrics = new AgentMetrics(
    config.facts.map((f) => f.name),
    opts.processMetrics ?? true,
  );
  const collector = new Collector(config, { metrics, logger: opts.logger });
  const app = createAgentApp({ collector, metrics, logger: opts.logger, guard: web.guard });
  const served = await serve(app, { listenAddress: opts.listenAddress, tls: web.tls, maxConnections: opts.maxConnections ?? WEB_MAX_CONNECTIONS, logger: opts.logger });
  opts.logger.info({ address: served.address, tls: Boolean(web.tls), facts: config.facts.length, min_interval_ms: config.minIntervalMs }, 'listening');
  return {
    url: served.url,
    collector,
    close: async () => {
      await served.close();
      await web.close();
    },
  };
}
