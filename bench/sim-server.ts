#!/usr/bin/env node
// The benchmark's simulated cluster, in its own process so that its CPU is not counted
// against the exporter or blackbox_exporter. Prints one line `ready <json>` once every
// listener is up, and exits when its stdin closes (the benchmark went away) or on SIGTERM.
// The benchmark starts several of these (shards) when one process' open-file limit cannot
// hold every listener and its connections.
//
//   node dist/bench/sim-server.js --servers=15000 --components=web:18080,service:18081 \
//     --base=127.60.0.1 --control=127.0.0.1:0 --exporter-config=/tmp/x/exporter.yml
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SimCluster, type SimComponentSpec } from '../src/sim/cluster.js';
import { startControl } from '../src/sim/control.js';
import { simExporterConfig } from '../src/sim/exporter-config.js';

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '150' },
    components: { type: 'string', default: 'web:18080,service:18081' },
    base: { type: 'string', default: '127.60.0.1' },
    'name-prefix': { type: 'string', default: 'node-' },
    control: { type: 'string', default: '127.0.0.1:0' },
    'max-seconds': { type: 'string', default: '1200' },
    /** Also write an exporter configuration that probes every component here. */
    'exporter-config': { type: 'string' },
    heartbeat: { type: 'string', default: '15s' },
    timeout: { type: 'string', default: '5s' },
    stale: { type: 'string', default: '1m' },
  },
  strict: true,
});

const servers = Number(values.servers);
if (!Number.isInteger(servers) || servers < 1) throw new Error('--servers must be a positive integer');
const components: SimComponentSpec[] = values.components.split(',').map((part) => {
  const [name, port] = part.split(':');
  if (!name || !port || !Number.isInteger(Number(port))) throw new Error(`bad component "${part}"; expected name:port`);
  return { name, port: Number(port) };
});
const [controlHost, controlPort] = values.control.split(':');

const sim = new SimCluster({ servers, components, baseAddress: values.base, namePrefix: values['name-prefix'] });
if (values['exporter-config']) {
  const yaml = simExporterConfig(sim, { heartbeatInterval: values.heartbeat, probeTimeout: values.timeout, staleTimeout: values.stale });
  writeFileSync(values['exporter-config'], yaml);
}
const started = performance.now();
await sim.start();
const control = await startControl(sim, controlHost ?? '127.0.0.1', Number(controlPort ?? 0));

let exiting = false;
const exit = (): void => {
  if (exiting) return;
  exiting = true;
  // Closing tens of thousands of listeners gracefully is pointless here: the process ends.
  process.exit(0);
};
process.stdin.on('end', exit);
process.stdin.on('close', exit);
process.stdin.resume();
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
// Bounded life even if nobody tells it to stop.
setTimeout(exit, Number(values['max-seconds']) * 1000).unref();

process.stdout.write(
  `ready ${JSON.stringify({
    control: control.url,
    servers,
    components: servers * components.length,
    startSeconds: (performance.now() - started) / 1000,
    first: sim.servers[0]?.address,
    last: sim.servers[sim.servers.length - 1]?.address,
  })}\n`,
);
