/**
 * Every metric the exporter exposes: name, type, help and label names. This is the
 * product's API (DESIGN.md, "Metric contract"); dashboards, alerts and the contract
 * test read it from here.
 */
export type MetricType = 'gauge' | 'counter' | 'histogram';

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
}

const NS = 'appcluster';
const COMPONENT = ['app_cluster', 'server', 'component'] as const;
const SERVER = ['app_cluster', 'server'] as const;

function spec(name: string, type: MetricType, help: string, labels: readonly string[] = []): MetricSpec {
  return { name: `${NS}_${name}`, type, help, labels };
}

/** Metrics rendered from the cluster snapshot on every scrape. */
export const clusterMetrics = {
  componentUp: spec(
    'component_up',
    'gauge',
    '1 if the last probe of the component succeeded, 0 if it failed; absent before the first probe and while the component is unknown (its server refused the exporter\'s credentials: failure reason unauthorized).',
    COMPONENT,
  ),
  lastHeartbeat: spec(
    'component_last_heartbeat_timestamp_seconds',
    'gauge',
    'Time of the last heartbeat: the one the component reports, else its last successful probe.',
    COMPONENT,
  ),
  heartbeatAge: spec(
    'component_heartbeat_age_seconds',
    'gauge',
    "How long the heartbeat has not moved at scrape time, on the exporter's clock (a node clock ahead cannot make it young).",
    COMPONENT,
  ),
  staleTimeout: spec(
    'component_stale_timeout_seconds',
    'gauge',
    'Configured heartbeat age above which the component counts as stale.',
    COMPONENT,
  ),
  versionInSync: spec(
    'component_version_in_sync',
    'gauge',
    '1 if the component reports the cluster reference version for its component name, else 0; absent while no version is known.',
    COMPONENT,
  ),
  keyInSync: spec(
    'component_key_in_sync',
    'gauge',
    '1 if the component reports the cluster reference key fingerprint, else 0; absent while no key is known.',
    COMPONENT,
  ),
  componentInfo: spec('component_info', 'gauge', 'Software version the component reports; absent while the latest answer read holds none, and while the component has stopped answering (its version is then last known).', [...COMPONENT, 'version']),
  probeDuration: spec('component_probe_duration_seconds', 'gauge', 'Duration of the last probe.', COMPONENT),
  lastProbe: spec('component_last_probe_timestamp_seconds', 'gauge', 'When the last probe finished.', COMPONENT),
  tlsCertExpiry: spec(
    'component_tls_cert_expiry_timestamp_seconds',
    'gauge',
    "When the leaf certificate the component's TLS endpoint served at the last probe expires (its notAfter); absent over plain connections and when the last probe made no accepted handshake.",
    COMPONENT,
  ),
  probesFailed: spec(
    'component_probes_failed_total',
    'counter',
    'Failed probes, whatever the reason; present at 0 from the first probe, so that increase() counts the first failure.',
    COMPONENT,
  ),
  probeFailures: spec('component_probe_failures_total', 'counter', 'Failed probes by reason; a reason appears at its first failure.', [...COMPONENT, 'reason']),
  probeFailureReason: spec(
    'component_probe_failure_reason',
    'gauge',
    'Present with value 1 while the last probe failed, labelled with its reason.',
    [...COMPONENT, 'reason'],
  ),
  serverOnline: spec(
    'server_online',
    'gauge',
    '1 if the server is online (reachable, every required component up and not stale), else 0.',
    SERVER,
  ),
  serverOfflineSince: spec(
    'server_offline_since_timestamp_seconds',
    'gauge',
    'When the server went Offline, while it is Offline: the round in which the exporter first judged it so (not when an alert fired); absent while it is Online or not judged yet.',
    SERVER,
  ),
  serverClockOffset: spec(
    'server_clock_offset_seconds',
    'gauge',
    "The server's clock minus the exporter's, from the node's time a component reads (clock:, the agent's node.time) or else from its moving heartbeats: an offset the clock certainly has (0 when they fit the exporter's clock); absent until either was seen.",
    SERVER,
  ),
  serverInfo: spec('server_info', 'gauge', 'Configured and reported facts about a server.', [
    ...SERVER,
    'address',
    'site',
    'role',
    'os',
  ]),
  clusterInfo: spec('cluster_info', 'gauge', 'Cluster settings as the configuration file sets them, not read from the product: load_balancing and automatic_failover are "true", "false", or empty when the file does not set them.', [
    'app_cluster',
    'load_balancing',
    'automatic_failover',
  ]),
  heartbeatInterval: spec('cluster_heartbeat_interval_seconds', 'gauge', 'Configured heartbeat (probe) interval.', [
    'app_cluster',
  ]),
  keyFingerprints: spec('cluster_key_fingerprints', 'gauge', 'Distinct encryption key fingerprints seen in the cluster.', [
    'app_cluster',
  ]),
  componentValue: spec(
    'component_value',
    'gauge',
    'A number the component reports (sessions, transfers, queued events), by the configured value name, which carries its unit.',
    [...COMPONENT, 'name'],
  ),
  factInfo: spec('component_fact_info', 'gauge', 'A text fact the component reports (role, leader), by fact name and value; absent while the component is down.', [
    ...COMPONENT,
    'fact',
    'value',
  ]),
  expectationServers: spec(
    'cluster_expectation_servers',
    'gauge',
    'Servers an expectation counts: active servers online (min_servers_online), or servers reporting the expected fact value; absent while the count is not known (a server not judged yet, or not heard: its credentials refused, its word older than a failure of the server).',
    ['app_cluster', 'expectation'],
  ),
  expectationMinServers: spec(
    'cluster_expectation_min_servers',
    'gauge',
    'Configured least number of servers an expectation needs; absent when it sets no minimum.',
    ['app_cluster', 'expectation'],
  ),
  expectationMemberInfo: spec(
    'cluster_expectation_member_info',
    'gauge',
    'Present with value 1 for each server an expectation counts (online active servers, servers reporting the fact value).',
    ['app_cluster', 'expectation', 'server'],
  ),
  expectationMaxServers: spec(
    'cluster_expectation_max_servers',
    'gauge',
    'Configured most servers an expectation allows; absent when it sets no maximum.',
    ['app_cluster', 'expectation'],
  ),
} as const;

/** The exporter's own metrics, kept in a long-lived registry. */
export const exporterMetrics = {
  buildInfo: spec('exporter_build_info', 'gauge', 'Exporter build facts.', ['version', 'node_version']),
  reloadSuccessful: spec(
    'exporter_config_last_reload_successful',
    'gauge',
    '1 if the last configuration reload succeeded, else 0.',
  ),
  reloadSuccessTimestamp: spec(
    'exporter_config_last_reload_success_timestamp_seconds',
    'gauge',
    'Time of the last successful configuration reload.',
  ),
  probes: spec('exporter_probes_total', 'counter', 'Probes run, by result.', ['result']),
  probeDuration: spec('exporter_probe_duration_seconds', 'histogram', 'Duration of probes.'),
  scheduleLag: spec(
    'exporter_probe_schedule_lag_seconds',
    'histogram',
    'How late probes start against their schedule.',
  ),
  probesInFlight: spec('exporter_probes_in_flight', 'gauge', 'Probes running now.'),
  probesSkipped: spec(
    'exporter_probes_skipped_total',
    'counter',
    'Probes not started because the previous probe of the same component was still running or queued.',
  ),
  probesAbandoned: spec(
    'exporter_probes_abandoned_total',
    'counter',
    "Probes whose failure was the exporter's own (cause: open_files, its open files exhausted; stalled, the prober's event loop stalled past the deadline): not counted against the server, and probed again at once.",
    ['cause'],
  ),
  shardInfo: spec('exporter_shard_info', 'gauge', 'The shard this exporter probes and exports (--shard.index of --shard.count); 1.', [
    'index',
    'count',
  ]),
  shardClusters: spec('exporter_shard_clusters', 'gauge', 'Configured clusters that this exporter\'s shard owns.'),
  shardComponents: spec('exporter_shard_components', 'gauge', 'Configured components (of all servers) in the clusters this exporter\'s shard owns.'),
} as const;

export const allMetricSpecs: readonly MetricSpec[] = [
  ...Object.values(clusterMetrics),
  ...Object.values(exporterMetrics),
];

/** Names of every series the exporter can expose, histogram and counter suffixes included. */
export function exposedSeriesNames(): Set<string> {
  const names = new Set<string>();
  for (const m of allMetricSpecs) {
    names.add(m.name);
    if (m.type === 'histogram') {
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    }
  }
  return names;
}

export { answeredReasons, probeReasons, type ProbeReason } from '../reasons.js';

/**
 * The label value of a setting the configuration may leave unset (`load_balancing`,
 * `automatic_failover` of `cluster_info`): "true", "false", or "" when not set. An empty
 * value is how Prometheus spells "no value" (a label with an empty value is the same as no
 * label, so `{load_balancing=""}` selects the clusters that do not set it), as
 * node_exporter's `node_os_info` writes an os-release field that is absent.
 */
export function configuredLabel(value: boolean | null | undefined): 'true' | 'false' | '' {
  return value === undefined || value === null ? '' : value ? 'true' : 'false';
}
