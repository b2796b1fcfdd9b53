#!/usr/bin/env node
/**
 * `npm start`: a simulated three-server cluster on loopback and the exporter watching it.
 * `npm start -- --profile NAME` picks the cluster: `demo` (the default, a generic health
 * document, examples/demo.yml), or one shaped like a product: `proget`, `securetransport`,
 * `etcd`, `patroni` (examples/sim-NAME.yml). The exporter's own flags pass through:
 * `npm start -- --web.listen-address=:9100 --log.level=debug --web.config.file=web.yml`.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startExporter } from './exporter.js';
import { createLogger, LOG_FORMATS, LOG_LEVELS } from './log.js';
import { SimCluster } from './sim/cluster.js';
import { startControl } from './sim/control.js';
import { isProfileName, profileConfigFile, PROFILES, SIM_PASSWORD_ENV } from './sim/profiles.js';

const flags = (() => {
  try {
    return parseArgs({
      options: {
        profile: { type: 'string', default: 'demo' },
        'web.listen-address': { type: 'string', default: '127.0.0.1:10471' },
        'web.telemetry-path': { type: 'string' },
        'web.config.file': { type: 'string' },
        'web.grafana-url': { type: 'string' },
        'web.alertmanager-url': { type: 'string' },
        'probe.concurrency': { type: 'string' },
        'log.level': { type: 'string', default: 'info' },
        'log.format': { type: 'string', default: 'logfmt' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: npm start -- [--profile NAME] [exporter flags: --web.listen-address, --web.telemetry-path, --web.config.file, --web.grafana-url, --web.alertmanager-url, --probe.concurrency, --log.level, --log.format]\n`);
    process.exit(2);
  }
})();
const oneOf = <T extends string>(flag: string, value: string, allowed: readonly T[]): T => {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  process.stderr.write(`--${flag} must be one of ${allowed.join(', ')}, got "${value}"\n`);
  process.exit(2);
};
const concurrency = flags['probe.concurrency'] === undefined ? undefined : Number(flags['probe.concurrency']);
if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1)) {
  process.stderr.write('--probe.concurrency must be a positive integer\n');
  process.exit(2);
}
const name = flags.profile;
if (!isProfileName(name)) {
  process.stderr.write(`unknown profile "${name}"; known: ${Object.keys(PROFILES).join(', ')}\n`);
  process.exit(2);
}
const profile = PROFILES[name];
const logger = createLogger(oneOf('log.level', flags['log.level'], LOG_LEVELS), oneOf('log.format', flags['log.format'], LOG_FORMATS));

// The SecureTransport profile's configuration reads the admin password from the environment.
process.env[SIM_PASSWORD_ENV] ??= randomBytes(12).toString('hex');
/**
 * Exits 1 saying why `what` cannot start. The simulated servers and the simulator's control
 * API have fixed addresses (`npm run sim` finds them there), so a taken one most likely
 * means a demo already runs.
 */
const cannotStart = (what: string, err: unknown): never => {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const why =
    e.code === 'EADDRINUSE' && e.address !== undefined
      ? `${e.address}:${e.port} is already in use: is a demo (npm start) already running? Stop it first (Ctrl-C in its terminal); one demo runs at a time`
      : e.message;
  process.stderr.write(`cannot start ${what}: ${why}\n`);
  process.exit(1);
};
const sim = new SimCluster(profile.simOptions({ password: process.env[SIM_PASSWORD_ENV] }));
await sim.start().catch((err: unknown) => cannotStart(`the simulated cluster (${profile.title})`, err));
const control = await startControl(sim, '127.0.0.1', 10472).catch((err: unknown) => cannotStart("the simulator's control API", err));
const exporter = await startExporter({
  configFile: profileConfigFile(name),
  listenAddress: flags['web.listen-address'],
  telemetryPath: flags['web.telemetry-path'],
  webConfigFile: flags['web.config.file'],
  grafanaUrl: flags['web.grafana-url'],
  alertmanagerUrl: flags['web.alertmanager-url'],
  concurrency,
  // The demo is for trying things: POST /-/reload after editing the profile's file.
  enableLifecycle: true,
  logger,
}).catch((err: unknown) => cannotStart('the exporter', err));

const width = Math.max(...profile.tryIt.map(({ command }) => command.length)) + 17;
process.stdout.write(`
appcluster-exporter demo (profile ${name})
  status page   ${exporter.url}/
  metrics       ${exporter.url}/metrics
  JSON status   ${exporter.url}/api/v1/status
  simulator     ${control.url} (${profile.title})
  config        ${profileConfigFile(name)}

Switch a fault on in another terminal, and watch it within one heartbeat interval (each line as
from a cleared simulator, after npm run sim -- clear):
${profile.tryIt.map(({ command, effect }) => `  ${`npm run sim -- ${command}`.padEnd(width)} # ${effect}`).join('\n')}
  ${'npm run sim -- list'.padEnd(width)} # every server, component and fault
  ${'npm run sim -- clear'.padEnd(width)} # clear everything
Press Ctrl-C to stop.

`);

const stop = (): void => {
  void Promise.all([exporter.close(), sim.stop()]).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
