import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { ClusterStatus, ServerStatus } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { profileExporterConfig, PROFILES, SIM_PASSWORD_ENV, type ProfileName } from '../../src/sim/profiles.js';
import { randomBase, tempDir, waitFor } from './stack.js';

/** A profile's simulated cluster with the exporter on the profile's own configuration. */
export interface ProfileStack {
  readonly sim: SimCluster;
  readonly exporter: RunningExporter;
  /** The profile's one cluster, from /api/v1/status. */
  cluster(): Promise<ClusterStatus>;
  server(name: string): Promise<ServerStatus>;
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A profile's cluster on this test's own loopback addresses and an exporter on it, configured
 * by the profile's examples/sim-*.yml (heartbeat 1s, timeout 400ms, stale 3s), every server
 * online. `cluster` sets further keys of the profile's cluster, as a user's file would.
 * The SecureTransport profile's password is set in SIM_PASSWORD_ENV for the exporter to read.
 */
export async function startProfileStack(name: ProfileName, cluster: Record<string, unknown> = {}): Promise<ProfileStack> {
  const password = (process.env[SIM_PASSWORD_ENV] ??= 'profile-stack-password');
  const sim = new SimCluster(PROFILES[name].simOptions({ baseAddress: randomBase(), password }));
  await sim.start();
  const configFile = join(await tempDir(), 'config.yml');
  const doc = parseDocument(profileExporterConfig(name, sim, { heartbeatInterval: '1s', probeTimeout: '400ms', staleTimeout: '3s' }));
  for (const [key, value] of Object.entries(cluster)) doc.setIn(['clusters', 0, key], doc.createNode(value));
  await writeFile(configFile, doc.toString());
  const exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => undefined }) });
  const status = async () => ((await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: ClusterStatus[] } }).data.clusters[0]!;
  const stack: ProfileStack = {
    sim,
    exporter,
    cluster: status,
    server: async (server) => (await status()).servers.find((s) => s.name === server)!,
    metrics: async () => (await fetch(`${exporter.url}/metrics`)).text(),
    close: async () => {
      await exporter.close();
      await sim.stop();
    },
  };
  try {
    await waitFor(`every ${name} server online`, async () => ((await status()).serversOnline === sim.servers.length ? true : undefined));
  } catch (err) {
    await stack.close();
    throw err;
  }
  return stack;
}
