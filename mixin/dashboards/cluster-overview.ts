/** The panels of dashboards/cluster-overview.json, in order; `mixin/dashboards.ts` adds the dashboard around them. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { query, tableQuery, thresholds, valueMap, mappedCells, row, statPanel, tablePanel, stateTimelinePanel, timeseriesPanel, ONLINE, UP, IN_SYNC, COLOR_TEXT, COLOR_BACKGROUND, type PanelOrRow } from './lib.js';

/**
 * The texts of the cluster's configured switches, from `appcluster_cluster_info`'s labels:
 * 1 "true", 0 "false", -1 the label empty (the configuration does not set it: "Not set",
 * never "Disabled").
 */
const CONFIGURED: Record<string, dashboard.ValueMappingResult> = {"-1": {"text": "Not set", "color": "text", "index": 2}, "0": {"text": "Disabled", "color": "text", "index": 1}, "1": {"text": "Enabled", "color": "green", "index": 0}};
/** Automatic failover: as configured, unless a member reports maintenance mode (2: the patroni preset's automatic_failover_paused). */
const FAILOVER: Record<string, dashboard.ValueMappingResult> = {...CONFIGURED, "2": {"text": "Paused (maintenance mode)", "color": "orange", "index": 3}};
/**
 * A setting `appcluster_cluster_info` carries as configured, per cluster: 1 when its label
 * is "true", 0 "false", -1 empty (not set); the CONFIGURED texts.
 */
const configuredSetting = (label: string): string =>
  [`max by (app_cluster) (appcluster_cluster_info{app_cluster=~"$app_cluster", ${label}="true"})`, `max by (app_cluster) (appcluster_cluster_info{app_cluster=~"$app_cluster", ${label}="false"}) * 0`, 'max by (app_cluster) (appcluster_cluster_info{app_cluster=~"$app_cluster"}) * -1'].join('\nor\n');
/** Alert severities, most severe first. */
const SEVERITY: Record<string, dashboard.ValueMappingResult> = {"critical": {"text": "critical", "color": "red", "index": 0}, "warning": {"text": "warning", "color": "orange", "index": 1}, "info": {"text": "info", "color": "blue", "index": 2}};
/** A "Server" column's link to the server's own dashboard. */
const SERVER_LINK: dashboard.DynamicConfigValue[] = [{ id: "links", value: [{"title": "Server details", "url": "/d/appcluster-server/appcluster-server?${datasource:queryparam}&var-app_cluster=${__data.fields.app_cluster}&var-server=${__data.fields.server}&${__url_time_range}", "targetBlank": false}] }];

export function clusterOverviewPanels(): PanelOrRow[] {
  return [
    row(1, "Cluster configuration", 0),
    statPanel({
      id: 2,
      title: "Servers configured",
      description: "Servers in the exporter configuration, in the selected sites.",
      gridPos: { h: 4, w: 3, x: 0, y: 1 },
      unit: "none",
    })
      .withTarget(query("A", "count by (app_cluster) (\n  max by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})\n)", { instant: true, legend: "{{app_cluster}}" })),
    statPanel({
      id: 3,
      title: "Servers online",
      description: "Servers that are reachable with every required component up and not stale.",
      gridPos: { h: 4, w: 3, x: 3, y: 1 },
      unit: "none",
      thresholds: thresholds(["red", null], ["green", 1]),
    })
      .withTarget(query("A", "sum by (app_cluster) (\n  (\n  max by (app_cluster, server) (appcluster_server_online{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})\n)", { instant: true, legend: "{{app_cluster}}" })),
    statPanel({
      id: 4,
      title: "Servers offline",
      description: "Configured servers that are not online.",
      gridPos: { h: 4, w: 3, x: 6, y: 1 },
      unit: "none",
      thresholds: thresholds(["green", null], ["red", 1]),
    })
      .withTarget(query("A", "sum by (app_cluster) (\n  (\n  1 - max by (app_cluster, server) (appcluster_server_online{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})\n)", { instant: true, legend: "{{app_cluster}}" })),
    statPanel({
      id: 5,
      title: "Load balancing (as configured)",
      description: "Load balancing as the exporter's configuration file sets it (load_balancing): no product API publishes it. Not set when the file leaves it out.",
      gridPos: { h: 4, w: 3, x: 9, y: 1 },
      unit: "none",
      mappings: [valueMap(CONFIGURED)],
    })
      .withTarget(query("A", configuredSetting("load_balancing"), { instant: true, legend: "{{app_cluster}}" })),
    statPanel({
      id: 6,
      title: "Automatic failover (as configured)",
      description: "Automatic failover as the exporter's configuration file sets it (automatic_failover): no product API publishes it. Not set when the file leaves it out. Paused while a member reports maintenance mode (the value automatic_failover_paused at 1, as the patroni preset reads it), whatever the file says.",
      gridPos: { h: 4, w: 3, x: 12, y: 1 },
      unit: "none",
      mappings: [valueMap(FAILOVER)],
    })
      .withTarget(query("A", `(max by (app_cluster) (appcluster_component_value{app_cluster=~"$app_cluster", name="automatic_failover_paused"}) == 1) * 2\nor\n${configuredSetting("automatic_failover")}`, { instant: true, legend: "{{app_cluster}}" })),
    statPanel({
      id: 7,
      title: "Heartbeat interval",
      description: "How often the exporter probes every component of the cluster.",
      gridPos: { h: 4, w: 3, x: 15, y: 1 },
      unit: "s",
    })
      .withTarget(query("A", "max by (app_cluster) (appcluster_cluster_heartbeat_interval_seconds{app_cluster=~\"$app_cluster\"})", { instant: true, legend: "{{app_cluster}}" })),
    statPanel({
      id: 8,
      title: "Stale timeout",
      description: "Heartbeat age above which a component counts as stale, per component name (a component may override the cluster setting).",
      gridPos: { h: 4, w: 3, x: 18, y: 1 },
      unit: "s",
    })
      .withTarget(query("A", "max by (app_cluster, component) (appcluster_component_stale_timeout_seconds{app_cluster=~\"$app_cluster\"})", { instant: true, legend: "{{app_cluster}} {{component}}" })),
    statPanel({
      id: 9,
      title: "Key fingerprints",
      description: "Distinct encryption key fingerprints seen in the cluster: more than one means a key is out of sync.",
      gridPos: { h: 4, w: 3, x: 21, y: 1 },
      unit: "none",
      thresholds: thresholds(["green", null], ["red", 2]),
    })
      .withTarget(query("A", "max by (app_cluster) (appcluster_cluster_key_fingerprints{app_cluster=~\"$app_cluster\"})", { instant: true, legend: "{{app_cluster}}" })),
    row(10, "Servers", 5),
    tablePanel({
      id: 11,
      title: "Servers",
      description: "One row per server component, as on the cluster management page. Click a server for its details.",
      gridPos: { h: 12, w: 24, x: 0, y: 6 },
      unit: "none",
      sortBy: "Server",
    })
      .overrideByName("Server", SERVER_LINK)
      .overrideByName("Status", mappedCells(ONLINE, COLOR_BACKGROUND))
      .overrideByName("Up", mappedCells(UP, COLOR_TEXT))
      .overrideByName("Heartbeat age", [{ id: "unit", value: "s" }, { id: "decimals", value: 0 }])
      .overrideByName("Heartbeat", mappedCells({"0": {"text": "Fresh", "color": "green", "index": 0}, "1": {"text": "Stale", "color": "red", "index": 1}}, COLOR_TEXT))
      .overrideByName("Version in sync", mappedCells(IN_SYNC, COLOR_TEXT))
      .overrideByName("Key in sync", mappedCells(IN_SYNC, COLOR_TEXT))
      .withTransformation({"id": "merge", "options": {}})
      .withTransformation({"id": "organize", "options": {"excludeByName": {"Time": true, "Value #E": true}, "indexByName": {"app_cluster": 0, "server": 1, "address": 2, "os": 3, "site": 4, "role": 5, "Value #B": 6, "component": 7, "Value #A": 8, "Value #C": 9, "Value #D": 10, "version": 11, "Value #E": 12, "Value #F": 13, "Value #G": 14}, "renameByName": {"app_cluster": "Cluster", "server": "Server", "address": "Address", "os": "OS", "site": "Site", "role": "Role", "Value #B": "Status", "component": "Component", "Value #A": "Up", "Value #C": "Heartbeat age", "Value #D": "Heartbeat", "version": "Version", "Value #F": "Version in sync", "Value #G": "Key in sync"}}})
      .withTarget(tableQuery("A", "max by (app_cluster, server, component) (appcluster_component_up{app_cluster=~\"$app_cluster\"})\n* on (app_cluster, server) group_left (address, os, site, role)\ntopk by (app_cluster, server) (1, appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})"))
      .withTarget(tableQuery("B", "(\n  max by (app_cluster, server, component) (appcluster_component_up{app_cluster=~\"$app_cluster\"}) * 0\n  + on (app_cluster, server) group_left\n  max by (app_cluster, server) (appcluster_server_online{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})"))
      .withTarget(tableQuery("C", "(\n  max by (app_cluster, server, component) (appcluster_component_heartbeat_age_seconds{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})"))
      .withTarget(tableQuery("D", "(\n  max by (app_cluster, server, component) (appcluster_component_heartbeat_age_seconds{app_cluster=~\"$app_cluster\"})\n  > bool\n  max by (app_cluster, server, component) (appcluster_component_stale_timeout_seconds{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})"))
      .withTarget(tableQuery("E", "(\n  max by (app_cluster, server, component, version) (appcluster_component_info{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})"))
      .withTarget(tableQuery("F", "(\n  max by (app_cluster, server, component) (appcluster_component_version_in_sync{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})"))
      .withTarget(tableQuery("G", "(\n  max by (app_cluster, server, component) (appcluster_component_key_in_sync{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})")),
    stateTimelinePanel({
      id: 12,
      title: "Server status",
      description: "Online or offline over time, per server.",
      gridPos: { h: 8, w: 24, x: 0, y: 18 },
      unit: "none",
      mappings: [valueMap(ONLINE)],
    })
      .withTarget(query("A", "(\n  max by (app_cluster, server) (appcluster_server_online{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})", { legend: "{{app_cluster}} / {{server}}" })),
    timeseriesPanel({
      id: 13,
      title: "Heartbeat age",
      description: "Age of each component's last heartbeat; it grows while a component does not answer.",
      gridPos: { h: 8, w: 12, x: 0, y: 26 },
      unit: "s",
    })
      .withTarget(query("A", "(\n  max by (app_cluster, server, component) (appcluster_component_heartbeat_age_seconds{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})", { legend: "{{app_cluster}} / {{server}} / {{component}}" })),
    tablePanel({
      id: 14,
      title: "Alerts firing",
      description: "Prometheus alerts firing now for the selected clusters (Prometheus' ALERTS series).",
      gridPos: { h: 8, w: 12, x: 12, y: 26 },
      unit: "none",
      noValue: "No alerts firing",
    })
      .overrideByName("Severity", mappedCells(SEVERITY, COLOR_TEXT))
      .overrideByName("Server", SERVER_LINK)
      .withTransformation({"id": "organize", "options": {"excludeByName": {"Time": true, "Value": true, "__name__": true, "alertstate": true, "instance": true, "job": true}, "indexByName": {"severity": 0, "alertname": 1, "app_cluster": 2, "server": 3, "component": 4}, "renameByName": {"severity": "Severity", "alertname": "Alert", "app_cluster": "Cluster", "server": "Server", "component": "Component"}}})
      .withTarget(tableQuery("A", "ALERTS{alertstate=\"firing\", app_cluster=~\"$app_cluster\"}")),
    timeseriesPanel({
      id: 15,
      title: "Workload per server",
      description: "Numbers the servers report (extract values: sessions, transfers, queued events per server), by component and value name; the unit is in the name.",
      gridPos: { h: 8, w: 12, x: 0, y: 34 },
      unit: "short",
    })
      .withTarget(query("A", "(\n  max by (app_cluster, server, component, name) (appcluster_component_value{app_cluster=~\"$app_cluster\"})\n)\nand on (app_cluster, server)\nmax by (app_cluster, server) (appcluster_server_info{app_cluster=~\"$app_cluster\", site=~\"$site\"})", { legend: "{{server}} {{component}} {{name}}" })),
    tablePanel({
      id: 16,
      title: "Expectations",
      description: "Cluster expectations: servers counted (active servers online, servers reporting a fact value) against the configured minimum and maximum.",
      gridPos: { h: 8, w: 12, x: 12, y: 34 },
      unit: "none",
      noValue: "No expectations configured",
    })
      .withTransformation({"id": "merge", "options": {}})
      .withTransformation({"id": "organize", "options": {"excludeByName": {"Time": true}, "renameByName": {"app_cluster": "Cluster", "expectation": "Expectation", "Value #A": "Servers", "Value #B": "Minimum", "Value #C": "Maximum"}}})
      .withTarget(tableQuery("A", "max by (app_cluster, expectation) (appcluster_cluster_expectation_servers{app_cluster=~\"$app_cluster\"})"))
      .withTarget(tableQuery("B", "max by (app_cluster, expectation) (appcluster_cluster_expectation_min_servers{app_cluster=~\"$app_cluster\"})"))
      .withTarget(tableQuery("C", "min by (app_cluster, expectation) (appcluster_cluster_expectation_max_servers{app_cluster=~\"$app_cluster\"})")),
  ];
}
