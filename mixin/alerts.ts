/**
 * The alerts, one entry each: what it fires on and what it says. The generator
 * (mixin/generate.ts) adds what the configuration decides: the exporter's selector on every
 * series, `for:`, `severity`, `keep_firing_for` and the runbook URL.
 *
 * To add an alert: add its entry here (the order here is the order in the rules file), its
 * `for:` and severity to DEFAULT_ALERTS in mixin/config.ts, a section in alerts/runbook.md
 * (the anchor of its runbook URL), its promtool cases in alerts/tests/, and run
 * `npm run generate:mixin`.
 */

import type { MixinConfig } from './config.js';

/** One alerting rule, before the configuration is applied. */
export interface AlertDefinition {
  /** The rule group: cluster alerts, or the exporter's own health. */
  readonly group: 'appcluster.alerts' | 'appcluster-exporter.alerts';
  /** Why the rule is as it is; written above it in the rules file. */
  readonly comment?: string;
  /**
   * PromQL over the exporter's series and the recorded ones, written without the exporter's
   * selector (`up{}` for the scrape's own series): the generator adds it to every series.
   * A function when a threshold comes from the configuration.
   */
  readonly expr: string | ((config: MixinConfig) => string);
  /** Holds a firing alert through missed scrapes (`keep_firing_for`): every alert on series the exporter reports. */
  readonly holdsThroughMissedScrapes: boolean;
  /** One static sentence. */
  readonly summary: string;
  /** A Go template over `$labels` and `$value`; its queries get the selector too. */
  readonly description: string;
  /** Further annotations, templated as the description is. */
  readonly annotations?: Readonly<Record<string, string>>;
  /**
   * Labels beside `severity`: `owner: monitoring` sends an alert to whoever runs the
   * monitoring rather than the clusters' operators (mixin/alertmanager.ts routes it).
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * The rule's alert name, when it is not the entry's key: two entries under one name are
   * one alert at two severities, as kubernetes-mixin's KubeClientCertificateExpiration is
   * (the critical one mutes the warning one in Alertmanager). Each entry has its own `for:`
   * and severity in the configuration, under its key.
   */
  readonly alertname?: string;
}

/** When a certificate expires, in an alert's description: the expiry the exporters report (the latest of the replicas'). */
const CERT_AT = `{{- with printf \`max(appcluster_component_tls_cert_expiry_timestamp_seconds{app_cluster=%q, server=%q, component=%q})\` $labels.app_cluster $labels.server $labels.component | query }} at {{ . | first | value | humanizeTimestamp }}{{ end }}`;

export const ALERTS = {
  AppClusterServerOffline: {
    group: 'appcluster.alerts',
    expr: `appcluster:active_server_online:max == 0`,
    holdsThroughMissedScrapes: true,
    summary: "An active server of the cluster is Offline.",
    // Says what is known, or nothing: a failing probe's reason, else a heartbeat older than
    // its stale timeout. The recorded series the expression reads lag the raw ones by an
    // evaluation, so at recovery neither may be left; an invented cause would then be mailed.
    description: `Server {{ $labels.server }} of cluster {{ $labels.app_cluster }} is Offline {{- with printf \`max by (component, reason) (appcluster_component_probe_failure_reason{app_cluster=%q, server=%q})\` $labels.app_cluster $labels.server | query | sortByLabel "component" }}; failing probes: {{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.component }} ({{ $s.Labels.reason }}){{ end }} {{- else }}{{ with printf \`min by (component) (appcluster_component_heartbeat_age_seconds{app_cluster=%q, server=%q}) > on (component) max by (component) (appcluster_component_stale_timeout_seconds{app_cluster=%q, server=%q})\` $labels.app_cluster $labels.server $labels.app_cluster $labels.server | query | sortByLabel "component" }}; stale heartbeats: {{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.component }}{{ end }}{{ end }}{{ end }}.`,
    annotations: {
      // When the server went Offline as the exporters judged it (the last replica to see it so), not when this alert fired
      // (its \`for:\` and the scrapes later): the e-mail's "Offline since".
      offline_since: `{{ with printf \`max(appcluster_server_offline_since_timestamp_seconds{app_cluster=%q, server=%q})\` $labels.app_cluster $labels.server | query }}{{ (. | first | value | toTime).Format "2006-01-02 15:04:05 MST" }}{{ end }}`,
    },
  },
  AppClusterClusterDown: {
    group: 'appcluster.alerts',
    expr: `appcluster:active_servers_online:sum == 0`,
    holdsThroughMissedScrapes: true,
    summary: "No active server of the cluster is Online.",
    description: `Cluster {{ $labels.app_cluster }} is down: no active server is Online {{- with printf \`appcluster:active_server_online:max{app_cluster=%q} == 0\` $labels.app_cluster | query | sortByLabel "server" }}; Offline: {{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.server }}{{ end }}{{ end }}.`,
  },
  AppClusterClusterDegraded: {
    group: 'appcluster.alerts',
    expr: `(appcluster:active_servers:count - appcluster:active_servers_online:sum > 0)
and
(appcluster:active_servers_online:sum > 0)`,
    holdsThroughMissedScrapes: true,
    summary: "Some active servers of the cluster are Offline.",
    description: `{{ $value }} of {{ with printf \`appcluster:active_servers:count{app_cluster=%q}\` $labels.app_cluster | query }}{{ . | first | value }}{{ end }} active servers of cluster {{ $labels.app_cluster }} are Offline {{- with printf \`appcluster:active_server_online:max{app_cluster=%q} == 0\` $labels.app_cluster | query | sortByLabel "server" }}: {{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.server }}{{ end }}{{ end }}.`,
  },
  AppClusterComponentDown: {
    comment: "The exporter does not export which components are required. A required one that is down takes its server offline, and AppClusterServerOffline then mutes this alert in Alertmanager; what remains are components down on an online server.",
    group: 'appcluster.alerts',
    expr: `appcluster:component_up:max == 0
unless on (app_cluster, server)
  appcluster_server_info{role="standby"}`,
    holdsThroughMissedScrapes: true,
    summary: "A component of an active server is down.",
    description: `Component {{ $labels.component }} on server {{ $labels.server }} of cluster {{ $labels.app_cluster }} is down {{- with printf \`max by (reason) (appcluster_component_probe_failure_reason{app_cluster=%q, server=%q, component=%q})\` $labels.app_cluster $labels.server $labels.component | query | sortByLabel "reason" }}; last probe failed with {{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.reason }}{{ end }}{{ end }}.`,
  },
  AppClusterHeartbeatStale: {
    comment: "Fires once the heartbeat has been stale for two heartbeat intervals: the heartbeat age grows with time, so \"age > stale timeout + 2 intervals\" is a `for:` that follows each cluster's own interval.",
    group: 'appcluster.alerts',
    expr: `(
  appcluster:component_heartbeat_age_seconds:min
  > on (app_cluster, server, component)
    (
      appcluster:component_stale_timeout_seconds:max
      + on (app_cluster) group_left ()
        2 * appcluster:cluster_heartbeat_interval_seconds:max
    )
)
unless on (app_cluster, server)
  appcluster_server_info{role="standby"}`,
    holdsThroughMissedScrapes: true,
    summary: "A component's heartbeat is older than its stale timeout.",
    description: `Component {{ $labels.component }} on server {{ $labels.server }} of cluster {{ $labels.app_cluster }} last sent a heartbeat {{ $value | humanizeDuration }} ago, more than its stale timeout {{- with printf \`appcluster:component_stale_timeout_seconds:max{app_cluster=%q, server=%q, component=%q}\` $labels.app_cluster $labels.server $labels.component | query }} of {{ . | first | value | humanizeDuration }}{{ end }}.`,
  },
  AppClusterVersionOutOfSync: {
    comment: "Its `for:` (15m by default) lets a rolling upgrade finish before anyone is told about it.",
    group: 'appcluster.alerts',
    expr: `appcluster:component_version_in_sync:max == 0`,
    holdsThroughMissedScrapes: true,
    summary: "A component runs a different software version than the rest of the cluster.",
    description: `Component {{ $labels.component }} on server {{ $labels.server }} of cluster {{ $labels.app_cluster }} reports version {{- with printf \`max by (version) (appcluster_component_info{app_cluster=%q, server=%q, component=%q})\` $labels.app_cluster $labels.server $labels.component | query | sortByLabel "version" }} {{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.version }}{{ end }},{{ else }} that is{{ end }} not the cluster's reference version.`,
  },
  AppClusterKeyOutOfSync: {
    group: 'appcluster.alerts',
    expr: `appcluster:component_key_in_sync:max == 0`,
    holdsThroughMissedScrapes: true,
    summary: "A component uses a different encryption key than the rest of the cluster.",
    description: `Component {{ $labels.component }} on server {{ $labels.server }} of cluster {{ $labels.app_cluster }} uses an encryption key whose fingerprint differs from the cluster's reference key {{- with printf \`max(appcluster_cluster_key_fingerprints{app_cluster=%q})\` $labels.app_cluster | query }}; {{ . | first | value }} distinct keys are in use in the cluster{{ end }}.`,
  },
  AppClusterTooFewServersOnline: {
    comment: "SecureTransport's \"Minimum Number of Nodes\": active servers online below the configured minimum (min_servers_online). Value: the active servers online.",
    group: 'appcluster.alerts',
    expr: `appcluster:cluster_expectation_servers:max{expectation="min_servers_online"}
  < on (app_cluster, expectation)
max by (app_cluster, expectation) (appcluster_cluster_expectation_min_servers)`,
    holdsThroughMissedScrapes: true,
    summary: "Fewer active servers are online than the cluster's configured minimum.",
    description: `Cluster {{ $labels.app_cluster }} has {{ $value }} of {{ with printf \`appcluster:active_servers:count{app_cluster=%q}\` $labels.app_cluster | query }}{{ . | first | value }}{{ end }} active servers online, minimum {{ with printf \`max(appcluster_cluster_expectation_min_servers{app_cluster=%q, expectation="min_servers_online"})\` $labels.app_cluster | query }}{{ . | first | value }}{{ end }}.`,
  },
  AppClusterServerCountUnexpected: {
    comment: "A count of servers reporting a fact value outside its range (servers_with_fact), such as \"exactly one primary\": fires on none and on two or more. Value: the count.",
    group: 'appcluster.alerts',
    expr: `(
  appcluster:cluster_expectation_servers:max
    < on (app_cluster, expectation)
  max by (app_cluster, expectation) (appcluster_cluster_expectation_min_servers{expectation!="min_servers_online"})
)
or
(
  appcluster:cluster_expectation_servers:min
    > on (app_cluster, expectation)
  min by (app_cluster, expectation) (appcluster_cluster_expectation_max_servers)
)`,
    holdsThroughMissedScrapes: true,
    summary: "The number of servers reporting an expected fact value is outside its configured range.",
    description: `Expectation {{ $labels.expectation }} of cluster {{ $labels.app_cluster }} counts {{ $value }} servers {{- with printf \`max by (server) (appcluster_cluster_expectation_member_info{app_cluster=%q, expectation=%q})\` $labels.app_cluster $labels.expectation | query | sortByLabel "server" }} ({{ range $i, $s := . }}{{ if $i }}, {{ end }}{{ $s.Labels.server }}{{ end }}){{ end }}; expected at least {{ with printf \`max(appcluster_cluster_expectation_min_servers{app_cluster=%q, expectation=%q})\` $labels.app_cluster $labels.expectation | query }}{{ . | first | value }}{{ else }}0{{ end }} and at most {{ with printf \`min(appcluster_cluster_expectation_max_servers{app_cluster=%q, expectation=%q})\` $labels.app_cluster $labels.expectation | query }}{{ . | first | value }}{{ else }}any number{{ end }}.`,
  },
  AppClusterCannotAuthenticate: {
    comment: 'Credentials refused (HTTP 401 or 403, a refused client certificate: reason "unauthorized"): the server answered, so it is up, and the component is unknown, not down; its server stays Online. Nothing is wrong with the cluster: whoever owns the monitoring fixes the credentials, so the alert carries owner="monitoring", which the Alertmanager route sends to them. Any replica refused counts: each holds the same credentials.',
    group: 'appcluster.alerts',
    expr: `max by (app_cluster, server, component) (appcluster_component_probe_failure_reason{reason="unauthorized"}) == 1`,
    holdsThroughMissedScrapes: true,
    labels: { owner: 'monitoring' },
    summary: "A server refuses the exporter's credentials, so a component's state is unknown.",
    description: `Server {{ $labels.server }} of cluster {{ $labels.app_cluster }} refuses the exporter's credentials for component {{ $labels.component }} (HTTP 401 or 403, or a refused client certificate): the component is unknown, neither up nor down, until the monitoring account is fixed.`,
  },
  AppClusterClockSkew: {
    comment: "A node's clock off the exporter's by more than a minute, as its moving heartbeats show it (each reading an offset the clock certainly has): every replica must see it. Staleness is judged on the exporter's clock and is not affected; but the node's own heartbeats, logs and certificates are. Value: the offset in seconds, + ahead, - behind.",
    group: 'appcluster.alerts',
    expr: `(min by (app_cluster, server) (appcluster_server_clock_offset_seconds) > 60)
or
(max by (app_cluster, server) (appcluster_server_clock_offset_seconds) < -60)`,
    holdsThroughMissedScrapes: true,
    summary: "A server's clock is more than a minute off the exporter's.",
    description: `The clock of server {{ $labels.server }} of cluster {{ $labels.app_cluster }} is {{ $value | humanize }} seconds off the exporter's clock (positive: ahead), as its heartbeats show it.`,
  },
  AppClusterCertificateExpiringWarning: {
    alertname: 'AppClusterCertificateExpiring',
    comment: "The leaf certificate a TLS endpoint served at its last probe (blackbox_exporter's probe_ssl_earliest_cert_expiry, per component), on the most favourable replica: a replica that still holds an old connection must not raise it alone. Two severities under one name, as kubernetes-mixin's KubeClientCertificateExpiration: 14 days to renew without haste (warning, standby servers included: a DR site's certificate fails at the failover), 3 days (critical, active servers only). A certificate that has expired fails its handshake: the component is down with reason tls, and AppClusterComponentDown or AppClusterServerOffline takes over. Value: seconds left.",
    group: 'appcluster.alerts',
    expr: `max by (app_cluster, server, component) (appcluster_component_tls_cert_expiry_timestamp_seconds) - time()
  < 14 * 86400`,
    holdsThroughMissedScrapes: true,
    summary: 'A TLS certificate served by a component expires soon.',
    description: `The certificate served by component {{ $labels.component }} on server {{ $labels.server }} of cluster {{ $labels.app_cluster }} expires CERT_AT, in less than 14 days.`.replace('CERT_AT', CERT_AT),
  },
  AppClusterCertificateExpiringCritical: {
    alertname: 'AppClusterCertificateExpiring',
    group: 'appcluster.alerts',
    expr: `(
  max by (app_cluster, server, component) (appcluster_component_tls_cert_expiry_timestamp_seconds) - time()
    < 3 * 86400
)
unless on (app_cluster, server)
  appcluster_server_info{role="standby"}`,
    holdsThroughMissedScrapes: true,
    summary: 'A TLS certificate served by a component expires soon.',
    description: `The certificate served by component {{ $labels.component }} on server {{ $labels.server }} of cluster {{ $labels.app_cluster }} expires CERT_AT, in less than 3 days.`.replace('CERT_AT', CERT_AT),
  },
  AppClusterPatroniReplicationLag: {
    comment: "Patroni (presets/patroni.yml, component metrics): a replica's replay behind the primary by more than the threshold, in bytes of WAL: the primary's patroni_xlog_location less the replica's patroni_xlog_replayed_location, as Patroni's own /metrics gives them. No member knows both, so the lag is computed here across members of one cluster; with two primaries the one further ahead counts. The two are probed up to one heartbeat interval apart, so heavy writes add up to an interval's worth of WAL to the figure: the threshold (patroni_max_replication_lag_bytes, 64 MiB) is generous and the alert waits. Value: the lag in bytes.",
    group: 'appcluster.alerts',
    expr: (config) => `(
  max by (app_cluster) (
    appcluster_component_value{name="wal_position_bytes"}
    and on (app_cluster, server, component) (appcluster_component_value{name="primary"} == 1)
  )
  - on (app_cluster) group_right ()
  max by (app_cluster, server, component) (
    appcluster_component_value{name="wal_replayed_position_bytes"}
    and on (app_cluster, server, component) (appcluster_component_value{name="primary"} == 0)
  )
)
> ${config.patroni_max_replication_lag_bytes}
unless on (app_cluster, server)
  appcluster_server_info{role="standby"}`,
    holdsThroughMissedScrapes: true,
    summary: "A Patroni replica's replay lags far behind the primary.",
    description: `Replica {{ $labels.server }} of cluster {{ $labels.app_cluster }} has replayed {{ $value | humanize1024 }}B less WAL than the primary has written.`,
  },
  AppClusterPatroniReplayPaused: {
    comment: "Patroni: WAL replay paused on a replica (pg_wal_replay_pause(), patroni_xlog_paused 1): it receives WAL but applies none, so its lag grows with every write and a failover to it would wait for the replay. Any replica reporting it counts.",
    group: 'appcluster.alerts',
    expr: `max by (app_cluster, server, component) (appcluster_component_value{name="wal_replay_paused"}) == 1`,
    holdsThroughMissedScrapes: true,
    summary: "WAL replay is paused on a Patroni replica.",
    description: `WAL replay is paused on server {{ $labels.server }} of cluster {{ $labels.app_cluster }} (pg_wal_replay_pause()); it applies no change from the primary until pg_wal_replay_resume().`,
  },
  AppClusterPatroniMaintenanceMode: {
    comment: "Patroni: the cluster in maintenance mode (patronictl pause, patroni_is_paused 1): automatic failover is off, so a primary that fails stays failed. Expected during planned work, hence the long `for:`: it pages when maintenance mode has been left on. One alert per cluster: every member reports the same.",
    group: 'appcluster.alerts',
    expr: `max by (app_cluster) (appcluster_component_value{name="automatic_failover_paused"}) == 1`,
    holdsThroughMissedScrapes: true,
    summary: "A Patroni cluster has been in maintenance mode (automatic failover off) for long.",
    description: `Cluster {{ $labels.app_cluster }} is in maintenance mode: automatic failover is off, and a failed primary will not be replaced until patronictl resume.`,
  },
  AppClusterExporterDown: {
    comment: "With every replica down no cluster alert can fire: their series go stale. Sharded exporters (docs/operations.md \"Shards\") carry a `shard` target label, which `without (instance)` keeps, so this fires for each shard whose replicas are all down.",
    group: 'appcluster-exporter.alerts',
    expr: `max without (instance) (up{}) == 0`,
    holdsThroughMissedScrapes: false,
    summary: "No appcluster exporter replica can be scraped.",
    description: `Prometheus fails to scrape every target of job {{ $labels.job }}{{ with $labels.shard }} in shard {{ . }}{{ end }}; cluster and server alerts cannot fire until an exporter replica is back.`,
  },
  AppClusterExporterReplicaDown: {
    comment: "Per replica on purpose: the fix is on that replica's host, and one e-mail carries all of them because Alertmanager groups by alertname.",
    group: 'appcluster-exporter.alerts',
    expr: `up{} == 0
and ignoring (instance)
  (max without (instance) (up{}) == 1)`,
    holdsThroughMissedScrapes: false,
    summary: "One appcluster exporter replica cannot be scraped while another still can.",
    description: `Prometheus fails to scrape exporter replica {{ $labels.instance }} of job {{ $labels.job }}; monitoring continues on the other replicas, without redundancy.`,
  },
  AppClusterExporterAbsent: {
    group: 'appcluster-exporter.alerts',
    expr: `absent(up{})`,
    holdsThroughMissedScrapes: false,
    summary: "Prometheus has no appcluster exporter target.",
    description: `Prometheus has no target of job {{ $labels.job }}, so no cluster is monitored; check the scrape configuration.`,
  },
  AppClusterExporterConfigReloadFailed: {
    comment: "Per replica on purpose, like AppClusterExporterReplicaDown: each reloads its own file.",
    group: 'appcluster-exporter.alerts',
    expr: `appcluster_exporter_config_last_reload_successful == 0`,
    holdsThroughMissedScrapes: true,
    summary: "The exporter failed to reload its configuration.",
    description: `Exporter replica {{ $labels.instance }} failed to reload its configuration and still runs the last good one; changes to clusters and servers are not applied.`,
  },
  AppClusterExporterOverloaded: {
    comment: "Per replica: the exporter's own overload. Probes it failed itself (its open files ran out, its event loop stalled past their deadlines) are not counted against the servers, but while it lasts the view is late and the replica needs room.",
    group: 'appcluster-exporter.alerts',
    expr: `increase(appcluster_exporter_probes_abandoned_total[5m]) > 0`,
    holdsThroughMissedScrapes: true,
    summary: "The exporter is overloaded; some of its probes failed by its own fault.",
    description: `Exporter replica {{ $labels.instance }} gave up {{ $value | humanize }} probes in 5 minutes ({{ $labels.cause }}: its own open files ran out, or its event loop stalled past the probe deadline). They were not counted against the servers, but the view is late.`,
  },
  AppClusterWatchdog: {
    comment: "Dead man's switch: always firing. Alertmanager routes it to the `appcluster-watchdog` receiver; an external service that pages when it stops arriving proves the whole chain works.",
    group: 'appcluster-exporter.alerts',
    expr: `vector(1)`,
    holdsThroughMissedScrapes: false,
    summary: "An alert that always fires, to prove that the alerting pipeline works.",
    description: `This alert fires at all times. Sent to a dead man's switch, its absence means that Prometheus, its rule evaluation, Alertmanager or the path between them is broken.`,
  },
} as const satisfies Record<string, AlertDefinition>;

/** An alert's name. */
export type AlertName = keyof typeof ALERTS;

/** Every alert's name, in the order of the rules file. */
export const ALERT_NAMES = Object.keys(ALERTS) as AlertName[];
