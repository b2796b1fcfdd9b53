#!/usr/bin/env node
/**
 * `npm start`: a simulated three-server cluster on loopback and the exporter watching it.
 * `npm start -- --profile NAME` picks the cluster: `demo` (the default, a generic health
 * document, examples/demo.yml), or one shaped like a product: `proget`, `securetransport`,
 * `etcd`, `patroni` (examples/sim-NAME.yml).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startExporter } from './exporter.js';
import { createLogger } from './log.js';
import { SimCluster } from './sim/cluster.js';
import { startControl } from './sim/control.js';
import { isProfileName, profileConfigFile, PROFILES, SIM_PASSWORD_ENV } from './sim/profiles.js';

const { values } = parseArgs({ options: { profile: { type: 'string', default: 'demo' } } });
const name = values.profile;
if (!isProfileName(name)) {
  process.stderr.write(`unknown profile "${name}"; known: ${Object.keys(PROFILES).join(', ')}\n`);
  process.exit(2);
}
const profile = PROFILES[name];
const logger = createLogger('info', 'logfmt');

// The SecureTransport profile's configuration reads the admin password from the environment.
process.env[SIM_PASSWORD_ENV] ??= randomBytes(12).toString('hex');
const sim = new SimCluster(profile.simOptions({ password: process.env[SIM_PASSWORD_ENV] }));
try {
  await sim.start();
} catch (err) {
  process.stderr.write(`cannot start the simulated cluster (${profile.title}): ${(err as Error).message}\n`);
  process.exit(1);
}
const control = await startControl(sim, '127.0.0.1', 10472);
const exporter = await startExporter({ configFile: profileConfigFile(name), listenAddress: '127.0.0.1:10471', logger }).catch((err: Error) => {
  process.stderr.write(`cannot start the exporter: ${err.message}\n`);
  process.exit(1);
});

const width = Math.max(...profile.tryIt.map(([command]) => command.length)) + 17;
process.stdout.write(`
appcluster-exporter demo (profile ${name})
  status page   ${exporter.url}/
  metrics       ${exporter.url}/metrics
  JSON status   ${exporter.url}/api/v1/status
  simulator     ${control.url} (${profile.title})
  config        ${profileConfigFile(name)}

Switch a fault on in another terminal, and watch it within one heartbeat interval:
${profile.tryIt.map(([command, effect]) => `  ${`npm run sim -- ${command}`.padEnd(width)} # ${effect}`).join('\n')}
  ${'npm run sim -- list'.padEnd(width)} # every server, component and fault
  ${'npm run sim -- clear'.padEnd(width)} # clear everything
Press Ctrl-C to stop.

`);

const stop = (): void => {
  void Promise.all([exporter.close(), sim.stop()]).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
