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
  /** Faults worth trying, each with what to watch; the demo prints them at start-up. */
  readonly tryIt: readonly TryIt[];
}

/** One fault of a profile's list: the command, the line the demo prints, and what that line claims. */
export interface TryIt {
  /** `npm run sim --` arguments: `fault SERVER FAULT [--component NAME] [--value V]`. */
  readonly command: string;
  /** What to watch, as the demo prints it. */
  readonly effect: string;
  /**
   * What `effect` says the exporter shows, for a test to hold it to
   * (test/integration/demo.test.ts switches each fault on against the profile's
   * simulated cluster, from a cleared simulator, and waits for every claim).
   */
  readonly shows: TryItShows;
  /** Commands of the same list that must be on first: `effect` says "with ... too". */
  readonly after?: readonly string[];
}

/** The claims of one `effect`, in the terms of /api/v1/status. */
export interface TryItShows {
  /** Servers `effect` names with their state ("proget-3 stays Online"); an Offline one with a word its reason holds. */
  readonly servers?: Readonly<Record<string, { readonly state: 'online' | 'offline'; readonly reason?: string }>>;
  /** Components `effect` says are down, as `server/component`. */
  readonly down?: readonly string[];
  /** Components whose version `effect` says is out of sync, as `server/component`. */
  readonly versionOutOfSync?: readonly string[];
  /** Components whose key `effect` says is out of sync, as `server/component`. */
  readonly keyOutOfSync?: readonly string[];
  /** Facts `effect` names, as `server/component/fact` to the value. */
  readonly facts?: Readonly<Record<string, string>>;
  /** Expectations `effect` says are not met, by name. */
  readonly notMet?: readonly string[];
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
      { command: 'fault node-2 down', effect: 'node-2 Offline: connection_refused', shows: { servers: { 'node-2': { state: 'offline', reason: 'connection_refused' } } } },
      { command: 'fault node-2 version_drift --value 8.5.0', effect: 'node-2 version out of sync (8.5.0)', shows: { versionOutOfSync: ['node-2/web', 'node-2/service'] } },
      { command: 'fault node-1 key_drift --component service', effect: 'node-1 encryption key out of sync', shows: { keyOutOfSync: ['node-1/service'] } },
      { command: 'fault node-3 hang --component web', effect: 'node-3 Offline: web: timeout', shows: { servers: { 'node-3': { state: 'offline', reason: 'web: timeout' } } } },
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
      { command: 'fault proget-2 database_error', effect: 'proget-2 Offline: database, with databaseStatusDetails', shows: { servers: { 'proget-2': { state: 'offline', reason: 'database' } } } },
      {
        command: 'fault proget-3 license_error --value "license expired"',
        effect: 'license down ("license expired"), proget-3 stays Online (license is not required)',
        shows: { servers: { 'proget-3': { state: 'online' } }, down: ['proget-3/license'] },
      },
      { command: 'fault proget-1 service_error', effect: 'proget-1 Offline: service', shows: { servers: { 'proget-1': { state: 'offline', reason: 'service' } } } },
      {
        command: 'fault proget-2 down --component messenger',
        effect: 'messenger down, proget-2 stays Online (not required)',
        shows: { servers: { 'proget-2': { state: 'online' } }, down: ['proget-2/messenger'] },
      },
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
      { command: 'fault st-2 tm_stopped', effect: 'st-2 Offline: transaction-manager', shows: { servers: { 'st-2': { state: 'offline', reason: 'transaction-manager' } } } },
      {
        command: 'fault st-1 daemon_stopped --value ssh',
        effect: 'ssh-daemon down ("Not running"), st-1 stays Online (not required unless the cluster says so)',
        shows: { servers: { 'st-1': { state: 'online' } }, down: ['st-1/ssh-daemon'] },
      },
      { command: 'fault st-3 down', effect: 'st-3 Offline: connection_refused', shows: { servers: { 'st-3': { state: 'offline', reason: 'connection_refused' } } } },
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
      {
        command: 'fault etcd-1 down',
        effect: 'etcd-1 Offline; etcd-2 becomes leader',
        shows: { servers: { 'etcd-1': { state: 'offline' } }, facts: { 'etcd-2/raft/leader': 'true' } },
      },
      {
        command: 'fault etcd-2 down',
        after: ['fault etcd-1 down'],
        effect: 'with etcd-1 down too: etcd-2 and etcd-3 Offline, etcd-3 without quorum (health "false", HTTP 503)',
        shows: { servers: { 'etcd-1': { state: 'offline' }, 'etcd-2': { state: 'offline' }, 'etcd-3': { state: 'offline', reason: 'health' } } },
      },
      {
        command: 'fault all quorum_loss',
        effect: 'etcd-1, etcd-2 and etcd-3 Offline: health "false" (HTTP 503), leader 0',
        shows: {
          servers: { 'etcd-1': { state: 'offline', reason: 'health' }, 'etcd-2': { state: 'offline', reason: 'health' }, 'etcd-3': { state: 'offline', reason: 'health' } },
          facts: { 'etcd-1/raft/leader': 'false' },
        },
      },
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
      {
        command: 'fault pg-2 switchover',
        effect: 'the primary role moves from pg-1 to pg-2, timeline 2',
        shows: { facts: { 'pg-1/patroni/role': 'replica', 'pg-2/patroni/role': 'primary' } },
      },
      { command: 'fault pg-1 replica', effect: 'pg-1 answers replica: no primary, one_primary not met', shows: { facts: { 'pg-1/patroni/role': 'replica' }, notMet: ['one_primary'] } },
      { command: 'fault pg-1 down', effect: 'pg-1 Offline; pg-2 takes over as primary', shows: { servers: { 'pg-1': { state: 'offline' } }, facts: { 'pg-2/patroni/role': 'primary' } } },
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
