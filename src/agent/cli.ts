import { parseArgs } from 'node:util';
import { ConfigError } from '../config/errors.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS } from '../log.js';
import { WEB_MAX_CONNECTIONS } from '../probes/fd-budget.js';
import { unreadableFacts } from './check.js';
import { loadAgentConfig } from './config.js';
import { startAgent } from './server.js';

const USAGE = `usage: appcluster-exporter agent [flags]

Serves facts that only this node's disk and process table hold (a keyed fingerprint of
the encryption key, the installed version, processes) at /api/v1/facts.

  --config.file=FILE           agent configuration (default: agent.yml)
  --config.check               validate the configuration, read each fact once, and exit 0
                               (valid, every fact readable) or 1, naming each that is not
  --web.listen-address=ADDR    address to listen on (default: :10473)
  --web.config.file=FILE       TLS and basic auth (exporter-toolkit web-config.yml format);
                               renewed certificate and key files are served without a restart
  --web.max-connections=N      most connections open at once, a new one closed past it (default: 512)
  --log.level=LEVEL            debug, info, warn or error (default: info)
  --log.format=FORMAT          logfmt or json (default: logfmt)
`;

function fail(message: string): never {
  process.stderr.write(`appcluster-exporter agent: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) fail(`--${flag} must be one of ${allowed.join(', ')}`);
  return value as T;
}

/** `appcluster-exporter agent ...`: flags and wiring of the on-node agent. `args` follow the word `agent`. */
export async function agentMain(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'config.file': { type: 'string', default: 'agent.yml' },
        'config.check': { type: 'boolean', default: false },
        'web.listen-address': { type: 'string', default: ':10473' },
        'web.config.file': { type: 'string' },
        'web.max-connections': { type: 'string', default: String(WEB_MAX_CONNECTIONS) },
        'log.level': { type: 'string', default: 'info' },
        'log.format': { type: 'string', default: 'logfmt' },
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
  const configFile = values['config.file'];
  if (values['config.check']) {
    try {
      const config = await loadAgentConfig(configFile);
      process.stdout.write(`${configFile}: valid (${config.facts.length} facts)\n`);
      // Valid is not enough: a fact that cannot be read (a path with a typo) would be served as an error.
      const unreadable = await unreadableFacts(config);
      for (const { fact, error } of unreadable) process.stderr.write(`${fact.at}: facts.${fact.name}: cannot be read: ${error.reason}: ${error.detail}\n`);
      if (unreadable.length > 0) {
        process.stderr.write(`${configFile}: ${unreadable.length} of ${config.facts.length} facts cannot be read (check on the node, as the agent's user)\n`);
        process.exit(1);
      }
      process.stdout.write(`${configFile}: every fact read once: all readable\n`);
      process.exit(0);
    } catch (err) {
      process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
      process.exit(1);
    }
  }
  const maxConnections = Number(values['web.max-connections']);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) fail('--web.max-connections must be a positive integer');
  const logger = createLogger(oneOf('log.level', values['log.level'], LOG_LEVELS), oneOf('log.format', values['log.format'], LOG_FORMATS));
  let agent;
  try {
    agent = await startAgent({
      configFile,
      listenAddress: values['web.listen-address'],
      webConfigFile: values['web.config.file'],
      maxConnections,
      logger,
    });
  } catch (err) {
    logger.fatal({ err: err instanceof Error ? err.message : String(err) }, 'cannot start');
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    void agent.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  // SIGHUP would end Node by default; the configuration is read once, at start.
  process.on('SIGHUP', () => logger.warn('SIGHUP ignored: the agent reads its configuration at start; restart it to change it'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
