import { loadConfigFile } from './config/load.js';
import { componentCount, shardConfig, WHOLE, type Shard } from './config/shard.js';
import { ConfigStore, type ReloadResult } from './config/store.js';
import type { Config } from './config/types.js';
import type { Logger } from './log.js';
import { OwnMetrics } from './metrics/own.js';
import { Monitor } from './monitor/monitor.js';
import { WEB_MAX_CONNECTIONS, webConnectionCap } from './probes/fd-budget.js';
import { createApp } from './web/app.js';
import { serve } from './web/shell.js';
import { loadWebConfig } from './web/web-config.js';

export interface ExporterOptions {
  readonly configFile: string;
  /** `host:port`, `:port` (every interface) or `[::1]:port`. */
  readonly listenAddress: string;
  readonly telemetryPath?: string;
  readonly grafanaUrl?: string;
  /** Alertmanager base URL: Offline servers on the status page link to a new silence there. */
  readonly alertmanagerUrl?: string;
  /** TLS and basic auth, in the exporter-toolkit web-config.yml format. */
  readonly webConfigFile?: string;
  readonly concurrency?: number;
  /** Most scrapes answered at once (`--web.max-requests`; 0: no limit). */
  readonly maxRequests?: number;
  /**
   * Most connections open at once (`--web.max-connections`, a positive integer). Given, it
   * must fit the open-file limit beside the probes' reserve; left out, the default (512) is
   * lowered to what fits, with a warning.
   */
  readonly maxConnections?: number;
  /** `--web.enable-lifecycle`: POST /-/reload reloads; without it, 403 (SIGHUP, `reload()`, always do). */
  readonly enableLifecycle?: boolean;
  /** The part of the configured clusters to probe and export (`--shard.*`); default all of them. */
  readonly shard?: Shard;
  readonly logger: Logger;
}

export interface RunningExporter {
  readonly url: string;
  readonly monitor: Monitor;
  readonly store: ConfigStore;
  readonly metrics: OwnMetrics;
  /** Reloads web-config.yml, then the configuration (POST /-/reload, SIGHUP), and records the outcome as an event. */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

/**
 * Loads the configuration, starts probing and serves HTTP.
 * @throws ConfigError on a bad configuration or web configuration; `serve`'s error when the
 * listen address is malformed or taken; an Error when `maxConnections` does not fit the
 * open-file limit (see webConnectionCap).
 */
export async function startExporter(opts: ExporterOptions): Promise<RunningExporter> {
  const connections = webConnectionCap(opts.maxConnections ?? WEB_MAX_CONNECTIONS, opts.maxConnections !== undefined);
  if (connections.warning) opts.logger.warn(connections.warning);
  const web = await loadWebConfig(opts.webConfigFile, { logger: opts.logger });
  const config = await loadConfigFile(opts.configFile);
  const metrics = new OwnMetrics();
  const shard = opts.shard ?? WHOLE;
  // The store loads and compares whole files; the monitor sees only this shard's clusters.
  const owned = (whole: Config): Config => {
    const mine = shardConfig(whole, shard);
    const components = componentCount(mine.clusters);
    metrics.sharded(shard.index, shard.count, mine.clusters.length, components);
    const fields = { shard: shard.index, shards: shard.count, clusters: mine.clusters.length, of: whole.clusters.length, components };
    if (mine.clusters.length === 0) opts.logger.info(fields, 'this shard owns no cluster of the configuration; it exports none until one hashes to it');
    else if (shard.count > 1) opts.logger.info(fields, 'shard');
    return mine;
  };
  const monitor = new Monitor(owned(config), { concurrency: opts.concurrency ?? 256, logger: opts.logger, metrics });
  // A broken web-config.yml fails the reload as a broken configuration does (the gauge at 0).
  const store = new ConfigStore(config, (next) => monitor.apply(owned(next)), (ok) => metrics.reloaded(ok && web.healthy), opts.logger);
  // Concurrent reloads share one (ConfigStore.reload, WebSettings.reload): its outcome is one event.
  const noted = new WeakSet<Promise<ReloadResult>>();
  const note = (pending: Promise<ReloadResult>, failuresOnly = false): Promise<ReloadResult> => {
    if (!noted.has(pending)) {
      noted.add(pending);
      void pending.then((result) => {
        if (!failuresOnly || !result.ok) monitor.noteReload(result);
      });
    }
    return pending;
  };
  const reload = async (): Promise<ReloadResult> => {
    const webResult = await note(web.reload(), true);
    const result = await note(store.reload());
    if (!webResult.ok) return result.ok ? webResult : { ok: false, error: `${webResult.error}\n${result.error}` };
    return result.ok ? { ok: true, changed: result.changed || webResult.changed } : result;
  };
  const app = createApp({
    judgement: () => monitor.judgement(),
    events: (query) => monitor.events(query),
    ready: () => monitor.ready(),
    reload,
    ownRegistry: metrics.registry,
    logger: opts.logger,
    telemetryPath: opts.telemetryPath,
    grafanaUrl: opts.grafanaUrl,
    alertmanagerUrl: opts.alertmanagerUrl,
    guard: web.guard,
    maxRequests: opts.maxRequests,
    enableLifecycle: opts.enableLifecycle,
  });
  const served = await serve(app, { listenAddress: opts.listenAddress, tls: web.tls, maxConnections: connections.cap, logger: opts.logger });
  monitor.start();
  opts.logger.info({ address: served.address, tls: Boolean(web.tls), clusters: monitor.currentConfig.clusters.length }, 'listening');
  return {
    url: served.url,
    monitor,
    store,
    metrics,
    reload,
    close: async () => {
      await served.close();
      await monitor.stop();
      await web.close();
    },
  };
}
