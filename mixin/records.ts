/**
 * The recording rules the alerts read (alerts/recording-rules.yml). Like the alerts
 * (mixin/alerts.ts) they are written without the exporter's selector, which the generator
 * adds to every series the exporter reports. RECORDING_NOTE says how they treat replicas
 * and roles; it heads the generated file too.
 */
export const RECORDING_NOTE = `
 Recording rules read by alerts/alert-rules.yml (the dashboards query the exporter's series).

 Every rule first collapses the exporter replicas: with two replicas scraped by the same
 Prometheus, each series exists once per \`instance\`, and a replica that is down or cut off
 from the cluster must neither double an alert nor report a false offline. Status facts
 therefore take the most favourable view across replicas (max of online/up/in-sync, min
 of heartbeat age): a server is offline only when no replica sees it online.

 A server counts as active unless appcluster_server_info says role="standby": a server
 without role information is treated as active, so a missing label never silences a page.`;

/** One recording rule: the series it records and its expression. */
export interface RecordDefinition {
  readonly record: string;
  readonly expr: string;
}

export const RECORDS: readonly RecordDefinition[] = [
  // --- per server -------------------------------------------------------------------
  { record: 'appcluster:server_online:max', expr: `max by (app_cluster, server) (appcluster_server_online)` },
  { record: 'appcluster:active_server_online:max', expr: `appcluster:server_online:max
unless on (app_cluster, server)
  appcluster_server_info{role="standby"}` },
  // --- per component ----------------------------------------------------------------
  { record: 'appcluster:component_up:max', expr: `max by (app_cluster, server, component) (appcluster_component_up)` },
  { record: 'appcluster:component_heartbeat_age_seconds:min', expr: `min by (app_cluster, server, component) (appcluster_component_heartbeat_age_seconds)` },
  { record: 'appcluster:component_stale_timeout_seconds:max', expr: `max by (app_cluster, server, component) (appcluster_component_stale_timeout_seconds)` },
  { record: 'appcluster:component_version_in_sync:max', expr: `max by (app_cluster, server, component) (appcluster_component_version_in_sync)` },
  { record: 'appcluster:component_key_in_sync:max', expr: `max by (app_cluster, server, component) (appcluster_component_key_in_sync)` },
  // --- per cluster ------------------------------------------------------------------
  { record: 'appcluster:cluster_heartbeat_interval_seconds:max', expr: `max by (app_cluster) (appcluster_cluster_heartbeat_interval_seconds)` },
  { record: 'appcluster:servers:count', expr: `count by (app_cluster) (appcluster:server_online:max)` },
  { record: 'appcluster:servers_online:sum', expr: `sum by (app_cluster) (appcluster:server_online:max)` },
  { record: 'appcluster:active_servers:count', expr: `count by (app_cluster) (appcluster:active_server_online:max)` },
  { record: 'appcluster:active_servers_online:sum', expr: `sum by (app_cluster) (appcluster:active_server_online:max)` },
  { record: 'appcluster:components:count', expr: `count by (app_cluster) (appcluster:component_up:max)` },
  { record: 'appcluster:components_up:sum', expr: `sum by (app_cluster) (appcluster:component_up:max)` },
  // --- cluster expectations ---------------------------------------------------------
  // Each replica counts the servers an expectation counts. "Too few" is judged on the
  // highest count of any replica and "too many" on the lowest, so both need every
  // replica to agree before an alert fires.
  { record: 'appcluster:cluster_expectation_servers:max', expr: `max by (app_cluster, expectation) (appcluster_cluster_expectation_servers)` },
  { record: 'appcluster:cluster_expectation_servers:min', expr: `min by (app_cluster, expectation) (appcluster_cluster_expectation_servers)` },
];
