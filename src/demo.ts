#!/usr/bin/env node
/**
 * `npm start`: a simulated three-server cluster on loopback and the exporter watching it,
 * configured by examples/demo.yml.
 */
import { fileURLToPath } from 'node:url';
import { startExporter } from './exporter.js';
import { createLogger } from './log.js';
import { SimCluster } from './sim/cluster.js';
import { startControl } from './sim/control.js';

const configFile = fileURLToPath(new URL('../../examples/demo.yml', import.meta.url));
const logger = createLogger('info', 'logfmt');

const sim = new SimCluster({
  servers: 3,
  components: [
    { name: 'web', port: 8080 },
    { name: 'service', port: 8081 },
  ],
  baseAddress: '127.0.10.1',
});
try {
  await sim.start();
} catch (err) {
  process.stderr.write(`cannot start the simulated cluster on 127.0.10.1-3 ports 8080/8081: ${(err as Error).message}\n`);
  process.exit(1);
}
const control = await startControl(sim, '127.0.0.1', 10472);
const exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:10471', logger }).catch((err: Error) => {
  process.stderr.write(`cannot start the exporter: ${err.message}\n`);
  process.exit(1);
});

process.stdout.write(`
appcluster-exporter demo
  status page   ${exporter.url}/
  metrics       ${exporter.url}/metrics
  JSON status   ${exporter.url}/api/v1/status
  simulator     ${control.url} (3 servers: node-1..3 on 127.0.10.1-3, components web and service)

Switch a fault on in another terminal, and watch node-2 go Offline within one heartbeat (10s):
  npm run sim -- fault node-2 down
  npm run sim -- clear node-2
Press Ctrl-C to stop.

`);

const stop = (): void => {
  void Promise.all([exporter.close(), sim.stop()]).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
