import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parseListenAddress } from '../exporter.js';
import type { Logger } from '../log.js';
import { loadWebConfig, type WebConfig } from '../web/web-config.js';
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
 * configuration or web configuration, and the listen error when the address is taken.
 */
export async function startAgent(opts: AgentOptions): Promise<RunningAgent> {
  const { host, port } = parseListenAddress(opts.listenAddress);
  const web: WebConfig = opts.webConfigFile ? await loadWebConfig(opts.webConfigFile) : {};
  const config = await loadAgentConfig(opts.configFile);
  const metrics = new AgentMetrics(
    config.facts.map((f) => f.name),
    opts.processMetrics ?? true,
  );
  const collector = new Collector(config, { metrics, logger: opts.logger });
  const app = createAgentApp({ collector, metrics, logger: opts.logger, guard: web.guard });
  const server: Server = web.tls ? createHttpsServer(web.tls, app) : createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${web.tls ? 'https' : 'http'}://${shownHost === '[::]' || shownHost === '0.0.0.0' ? 'localhost' : shownHost}:${addr.port}`;
  opts.logger.info(
    { address: `${shownHost}:${addr.port}`, tls: Boolean(web.tls), facts: config.facts.length, min_interval_ms: config.minIntervalMs },
    'listening',
  );
  return {
    url,
    collector,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
