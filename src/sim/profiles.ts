import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { SimCluster, SimOptions } from './cluster.js';

/** The environment variable that holds the SecureTransport profile's admin password. */
export const SIM_PASSWORD_ENV = 'APPCLUSTER_SIM_PASSWORD';

/** What `npm start -- --profile NAME` runs: a simulated cluster and the exporter configuration on it. */
export interface SimProfile {
  /** One line for the demo's banner. */
  readonly title: string;
  /** The simulated cluster; `baseAddress` moves it (tests), `password` is the admin password where one is asked. */
  simOptions(o?: { baseAddress?: string; password?: string }): SimOptions;
  /** The exporter configuration, under `examples/`; its servers are the simulated ones at their default addresses. */
  readonly configFile: string;
  /** Faults worth trying, as `npm run sim --` arguments, each with what to watch. */
  readonly tryIt: readonly (readonly [command: string, effect: string])[];
}

/**
 * The simulator's profiles. Each has its own loopback addresses (127.0.10-14.x) and the
 * product's own ports, so several could run side by side; the demo's exporter and control
 * ports (10471, 10472) are shared, so one demo runs at a time.
 */
export const PROFILES = {
  demo: {
    title: '3 servers: node-1..3 on 127.0.10.1-3, components web and service (a generic health document)',
    simOptions: (o = {}) => ({
      servers: 3,
      components: [
        { name: 'web', port: 8080 },
        { name: 'service', port: 8081 },
      ],
      baseAddress: o.baseAddress ?? '127.0.10.1',
    }),
    configFile: 'demo.yml',
    tryIt: [
      ['fault node-2 down', 'node-2 Offline: connection_refused'],
      ['fault node-2 version_drift --value 8.5.0', 'version out of sync'],
      ['fault node-1 key_drift --component service', 'encryption key out of sync'],
      ['fault node-3 hang --component web', 'web times out: node-3 Offline'],
    ],
  },
  proget: {
    title: 'ProGet: proget-1..3 on 127.0.11.1-3, /health/json on port 8624, service messenger on TCP 33237',
    simOptions: (o = {}) => ({
      servers: 3,
      namePrefix: 'proget-',
      components: [
        { name: 'web', port: 8624, shape: 'proget' },
        { name: 'messenger', port: 33237, shape: 'tcp' },
      ],
      baseAddress: o.baseAddress ?? '127.0.11.1',
      version: '26.0.2',
    }),
    configFile: 'sim-proget.yml',
    tryIt: [
      ['fault proget-2 database_error', 'proget-2 Offline: database, with databaseStatusDetails'],
      ['fault proget-3 license_error --value "license expired"', 'proget-3 Offline: license'],
      ['fault proget-1 service_error', 'proget-1 Offline: service'],
      ['fault proget-2 down --component messenger', 'messenger down, proget-2 still Online (not required)'],
    ],
  },
  securetransport: {
    title: 'SecureTransport: st-1..3 on 127.0.12.1-3, admin API v2.0 on port 8444 (plain HTTP, basic auth and Referer)',
    simOptions: (o = {}) => ({
      servers: 3,
      namePrefix: 'st-',
      components: [{ name: 'admin', port: 8444, shape: 'securetransport' }],
      baseAddress: o.baseAddress ?? '127.0.12.1',
      version: '5.5',
      os: 'Linux',
      products: { securetransport: { username: 'monitor', ...(o.password ? { password: o.password } : {}) } },
    }),
    configFile: 'sim-securetransport.yml',
    tryIt: [
      ['fault st-2 tm_stopped', 'st-2 Offline: transaction-manager'],
      ['fault st-3 down', 'st-3 Offline: connection_refused'],
    ],
  },
  etcd: {
    title: 'etcd: etcd-1..3 on 127.0.13.1-3, client port 2379, peer port 2380 (GET /version)',
    simOptions: (o = {}) => ({
      servers: 3,
      namePrefix: 'etcd-',
      components: [
        { name: 'client', port: 2379, shape: 'etcd' },
        { name: 'peer', port: 2380, shape: 'etcd-peer' },
      ],
      baseAddress: o.baseAddress ?? '127.0.13.1',
      version: '3.4.23',
    }),
    configFile: 'sim-etcd.yml',
    tryIt: [
      ['fault etcd-1 down', 'etcd-1 Offline; etcd-2 becomes leader'],
      ['fault etcd-2 down', 'with etcd-1 down too: etcd-3 has no quorum, 503 health false'],
      ['fault all quorum_loss', 'every member 503 health false, leader 0'],
    ],
  },
  patroni: {
    title: 'Patroni: pg-1..3 on 127.0.14.1-3, REST API on port 8008, PostgreSQL on TCP 5432',
    simOptions: (o = {}) => ({
      servers: 3,
      namePrefix: 'pg-',
      components: [
        { name: 'patroni', port: 8008, shape: 'patroni' },
        { name: 'postgresql', port: 5432, shape: 'tcp' },
      ],
      baseAddress: o.baseAddress ?? '127.0.14.1',
      version: '4.0.4',
    }),
    configFile: 'sim-patroni.yml',
    tryIt: [
      ['fault pg-2 switchover', 'the primary role moves from pg-1 to pg-2, timeline 2'],
      ['fault pg-1 replica', 'pg-1 answers replica: no primary, one_primary not met'],
      ['fault pg-1 down', 'pg-2 takes over as primary'],
    ],
  },
} as const satisfies Record<string, SimProfile>;

export type ProfileName = keyof typeof PROFILES;

/** True when `name` is one of PROFILES (for command-line input). */
export function isProfileName(name: string): name is ProfileName {
  return Object.hasOwn(PROFILES, name);
}

/** The absolute path of a profile's exporter configuration (from `src/sim` and from `dist/src/sim`). */
export function profileConfigFile(name: ProfileName): string {
  const rel = `examples/${PROFILES[name].configFile}`;
  const candidates = [`../../${rel}`, `../../../${rel}`].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** Durations as the configuration writes them (`1s`, `400ms`). */
export interface ProfileTiming {
  readonly heartbeatInterval?: string;
  readonly probeTimeout?: string;
  readonly staleTimeout?: string;
}

/**
 * The profile's exporter configuration for a simulated cluster that runs elsewhere: the
 * file's servers replaced by `sim`'s (name and address), and the cluster's timing by `timing`. Everything else
 * (endpoints and components, or a preset) is the file's. Throws when the file cannot be read.
 */
export function profileExporterConfig(name: ProfileName, sim: SimCluster, timing: ProfileTiming = {}): string {
  const doc = parseDocument(readFileSync(profileConfigFile(name), 'utf8'));
  const cluster = ['clusters', 0];
  // Site, role and labels stay with the file's server of the same place.
  const written = (doc.getIn([...cluster, 'servers'], false) as { toJSON(): unknown } | undefined)?.toJSON();
  const old = Array.isArray(written) ? (written as Record<string, unknown>[]) : [];
  doc.setIn([...cluster, 'servers'], doc.createNode(sim.servers.map((s, i) => ({ ...old[i], name: s.name, address: s.address }))));
  const set: [string, string | undefined][] = [
    ['heartbeat_interval', timing.heartbeatInterval],
    ['probe_timeout', timing.probeTimeout],
    ['stale_timeout', timing.staleTimeout],
  ];
  for (const [key, value] of set) if (value !== undefined) doc.setIn([...cluster, key], value);
  return doc.toString();
}
