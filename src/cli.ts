// The command line: flags, the configuration, wiring.
import { parseArgs } from 'node:util';
import { ConfigError } from './config/errors.js';
import { loadConfigFile } from './config/load.js';
import { componentCount, parseShard, parseShardFromPodName, shardConfig, type Shard } from './config/shard.js';
import { buildProbes } from './probes/build.js';
import { WEB_MAX_CONNECTIONS, webConnectionCap } from './probes/fd-budget.js';
import { startExporter } from './exporter.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS } from './log.js';
import { VERSION } from './version.js';

const USAGE = `usage: appcluster-exporter [flags]
       appcluster-exporter agent [flags]   the on-node agent (agent --help)

  --config.file=FILE           configuration file (default: appcluster.yml)
  --config.check               validate the configuration and exit 0 (valid) or 1, listing every error
  --web.listen-address=ADDR    address to listen on (default: :10471)
  --web.telemetry-path=PATH    path of the metrics (default: /metrics)
  --web.config.file=FILE       TLS and basic auth (exporter-toolkit web-config.yml format)
  --web.grafana-url=URL        Grafana base URL for links from the status page
  --web.alertmanager-url=URL   Alertmanager base URL: Offline servers link to a new silence
  --web.max-requests=N         most scrapes answered at once, 503 past it (default: 40; 0: no limit)
  --web.max-connections=N      most connections open at once, a new one closed past it (default: 512);
                               must fit the open-file limit beside the probes' reserve
  --web.enable-lifecycle       let POST /-/reload reload (without it: 403); SIGHUP always reloads
  --probe.concurrency=N        most probes running at once (default: 256)
  --shard.index=I              probe and export only the clusters of shard I (default: 0)
  --shard.count=N              of N shards, by a stable hash of the cluster name (default: 1)
  --shard.from-pod-name=NAME   take the shard index from a StatefulSet pod's name (its ordinal,
                               NAME-2 is shard 2), instead of --shard.index
  --log.level=LEVEL            debug, info, warn or error (default: info)
  --log.format=FORMAT          logfmt or json (default: logfmt)
  --version                    print the version and exit
`;

function fail(message: string): never {
  process.stderr.write(`appcluster-exporter: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) fail(`--${flag} must be one of ${allowed.join(', ')}`);
  return value as T;
}

async function main(): Promise<void> {
  // The agent is its own program with its own flags; loaded only when asked for.
  if (process.argv[2] === 'agent') {
    const { agentMain } = await import('./agent/cli.js');
    await agentMain(process.argv.slice(3));
    return;
  }
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'config.file': { type: 'string', default: 'appcluster.yml' },
        'config.check': { type: 'boolean', default: false },
        'web.listen-address': { type: 'string', default: ':10471' },
        'web.telemetry-path': { type: 'string', default: '/metrics' },
        'web.grafana-url': { type: 'string' },
        'web.alertmanager-url': { type: 'string' },
        'web.config.file': { type: 'string' },
        'web.max-requests': { type: 'string', default: '40' },
        // No default here: a value given must fit the open-file limit, the default is lowered to fit.
        'web.max-connections': { type: 'string' },
        'web.enable-lifecycle': { type: 'boolean', default: false },
        'probe.concurrency': { type: 'string', default: '256' },
        // No default here: given together with --shard.from-pod-name, it is an error.
        'shard.index': { type: 'string' },
        'shard.from-pod-name': { type: 'string' },
        'shard.count': { type: 'string', default: '1' },
        'log.level': { type: 'string', default: 'info' },
        'log.format': { type: 'string', default: 'logfmt' },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`appcluster-exporter ${VERSION} (node ${process.version})\n`);
    return;
  }
  let shard: Shard;
  try {
    const podName = values['shard.from-pod-name'];
    if (podName !== undefined && values['shard.index'] !== undefined) throw new Error('give --shard.index or --shard.from-pod-name, not both');
    shard = podName === undefined ? parseShard(values['shard.index'] ?? '0', values['shard.count']) : parseShardFromPodName(podName, values['shard.count']);
  } catch (err) {
    fail((err as Error).message);
  }
  const givenConnections = values['web.max-connections'];
  const maxConnections = Number(givenConnections ?? WEB_MAX_CONNECTIONS);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) fail('--web.max-connections must be a positive integer');
  const configFile = values['config.file'];
  if (values['config.check']) {
    try {
      const config = await loadConfigFile(configFile);
      process.stdout.write(`${configFile}: valid (${config.clusters.length} clusters, ${componentCount(config.clusters)} components)\n`);
      for (const warning of config.warnings ?? []) process.stderr.write(`${warning}\n`);
      if (shard.count > 1) {
        const mine = shardConfig(config, shard).clusters;
        process.stdout.write(`${configFile}: shard ${shard.index} of ${shard.count} owns ${mine.length} clusters, ${componentCount(mine)} components\n`);
      }
      // The web server's connections and the probes' files share the open-file limit, as at start.
      const connections = webConnectionCap(maxConnections, givenConnections !== undefined);
      if (connections.warning) process.stderr.write(`${configFile}: warning: ${connections.warning}\n`);
      // Building the probes opens no connection; it tells whether keep-alive fits the open-file limit.
      const probes = buildProbes(shardConfig(config, shard));
      for (const warning of probes.warnings) process.stderr.write(`${configFile}: warning: ${warning}\n`);
      await probes.close();
      process.exit(0);
    } catch (err) {
      process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
      process.exit(1);
    }
  }
  const concurrency = Number(values['probe.concurrency']);
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('--probe.concurrency must be a positive integer');
  const maxRequests = Number(values['web.max-requests']);
  if (!Number.isInteger(maxRequests) || maxRequests < 0) fail('--web.max-requests must be a whole number (0: no limit)');
  const telemetryPath = values['web.telemetry-path'];
  if (!telemetryPath.startsWith('/') || telemetryPath === '/') fail('--web.telemetry-path must start with / and not be /');
  const alertmanagerUrl = values['web.alertmanager-url'];
  if (alertmanagerUrl !== undefined && !/^https?:\/\/[^/]/.test(alertmanagerUrl)) fail('--web.alertmanager-url must be an http:// or https:// URL');
  const logger = createLogger(oneOf('log.level', values['log.level'], LOG_LEVELS), oneOf('log.format', values['log.format'], LOG_FORMATS));

  let exporter;
  try {
    exporter = await startExporter({
      configFile,
      listenAddress: values['web.listen-address'],
      telemetryPath,
      grafanaUrl: values['web.grafana-url'],
      alertmanagerUrl,
      webConfigFile: values['web.config.file'],
      concurrency,
      maxRequests,
      maxConnections: givenConnections === undefined ? undefined : maxConnections,
      enableLifecycle: values['web.enable-lifecycle'],
      shard,
      logger,
    });
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
    process.exit(1);
  }
  process.on('SIGHUP', () => {
    void exporter.reload();
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    void exporter.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
