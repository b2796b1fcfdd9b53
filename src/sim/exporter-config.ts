import { stringify } from 'yaml';
import type { SimCluster } from './cluster.js';

export interface SimExporterConfigOptions {
  readonly cluster?: string;
  readonly heartbeatInterval?: string;
  readonly probeTimeout?: string;
  readonly staleTimeout?: string;
  readonly expectedVersion?: string;
  /** Read the raw key (hashed by the exporter) instead of the fingerprint. */
  readonly rawKey?: boolean;
  /**
   * Probe over TLS (a simulator started with `tls`): the CA file that signed its
   * certificate, and the name the certificate holds (every server shares one certificate).
   */
  readonly tls?: { readonly caFile: string; readonly serverName: string };
}

/** An exporter configuration that probes every server and component of a simulated cluster. */
export function simExporterConfig(sim: SimCluster, o: SimExporterConfigOptions = {}): string {
  const reads = {
    status: 'status',
    version: 'version',
    [o.rawKey ? 'key' : 'key_fingerprint']: o.rawKey ? 'encryption_key' : 'key_fingerprint',
    heartbeat: 'heartbeat',
    os: 'os',
    values: { sessions: 'sessions' },
    facts: { role: 'role' },
  };
  const cluster = {
    name: o.cluster ?? 'sim',
    heartbeat_interval: o.heartbeatInterval ?? '15s',
    probe_timeout: o.probeTimeout ?? '5s',
    stale_timeout: o.staleTimeout ?? '1m',
    load_balancing: true,
    automatic_failover: true,
    ...(o.expectedVersion ? { expected_version: o.expectedVersion } : {}),
    expectations: {
      min_servers_online: Math.ceil(sim.servers.length / 2),
      servers_with_fact: [{ name: 'one_primary', fact: 'role', values: ['primary'], count: 1 }],
    },
    components: sim.options.components.map((c) => ({
      name: c.name,
      probe: {
        http: o.tls
          ? { url: `https://{address}:${c.port}/health`, tls: { ca_file: o.tls.caFile, server_name: o.tls.serverName } }
          : { url: `http://{address}:${c.port}/health` },
      },
      ...reads,
    })),
    servers: sim.servers.map((s) => ({ name: s.name, address: s.address, site: 'primary', role: 'active' })),
  };
  return stringify({ clusters: [cluster] });
}
