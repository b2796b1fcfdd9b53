/** The panels of dashboards/server-detail.json, in order; `mixin/dashboards.ts` adds the dashboard around them. */
import * as common from '@grafana/grafana-foundation-sdk/common';
import { query, tableQuery, valueMap, mappedCells, row, statPanel, tablePanel, stateTimelinePanel, timeseriesPanel, ONLINE, UP, IN_SYNC, COLOR_TEXT, COLOR_BACKGROUND, type PanelOrRow } from './lib.js';

export function serverDetailPanels(): PanelOrRow[] {
  return [
    row(1, "Server", 0),
    statPanel({
      id: 2,
      title: "Status",
      description: "Online: reachable, and every required component up and not stale.",
      gridPos: { h: 5, w: 4, x: 0, y: 1 },
      unit: "none",
      mappings: [valueMap(ONLINE)],
      colorMode: common.BigValueColorMode.Background,
    })
      .withTarget(query("A", "max(appcluster_server_online{app_cluster=\"$app_cluster\", server=\"$server\"})", { instant: true, legend: "status" })),
    statPanel({
      id: 3,
      title: "Components up now",
      description: "Components whose last probe succeeded, out of all probed components.",
      gridPos: { h: 5, w: 4, x: 4, y: 1 },
      unit: "none",
    })
      .withTarget(query("A", "sum(max by (component) (appcluster_component_up{app_cluster=\"$app_cluster\", server=\"$server\"}))", { instant: true, legend: "up" }))
      .withTarget(query("B", "count(max by (component) (appcluster_component_up{app_cluster=\"$app_cluster\", server=\"$server\"}))", { instant: true, legend: "probed" })),
    tablePanel({
      id: 4,
      title: "Server facts",
      description: "Address, site, role and operating system as configured and reported.",
      gridPos: { h: 5, w: 16, x: 8, y: 1 },
      unit: "string",
    })
      .withTransformation({"id": "organize", "options": {"excludeByName": {"Time": true, "Value": true}, "indexByName": {"address": 0, "site": 1, "role": 2, "os": 3}, "renameByName": {"address": "Address", "site": "Site", "role": "Role", "os": "OS"}}})
      .withTarget(tableQuery("A", "max by (address, site, role, os) (appcluster_server_info{app_cluster=\"$app_cluster\", server=\"$server\"})")),
    row(5, "Components", 6),
    tablePanel({
      id: 6,
      title: "Components now",
      description: "The last probe of each component of this server.",
      gridPos: { h: 8, w: 24, x: 0, y: 7 },
      unit: "none",
      sortBy: "Component",
    })
      .overrideByName("Up", mappedCells(UP, COLOR_BACKGROUND))
      .overrideByName("Heartbeat age", [{ id: "unit", value: "s" }, { id: "decimals", value: 0 }])
      .overrideByName("Stale timeout", [{ id: "unit", value: "s" }])
      .overrideByName("Version in sync", mappedCells(IN_SYNC, COLOR_TEXT))
      .overrideByName("Key in sync", mappedCells(IN_SYNC, COLOR_TEXT))
      .overrideByName("Probe duration", [{ id: "unit", value: "s" }])
      .overrideByName("Last probe", [{ id: "unit", value: "dateTimeFromNow" }])
      .withTransformation({"id": "merge", "options": {}})
      .withTransformation({"id": "organize", "options": {"excludeByName": {"Time": true, "Value #D": true, "Value #I": true}, "indexByName": {"component": 0, "Value #A": 1, "Value #B": 2, "Value #C": 3, "version": 4, "Value #E": 5, "Value #F": 6, "Value #G": 7, "Value #H": 8, "reason": 9}, "renameByName": {"component": "Component", "Value #A": "Up", "Value #B": "Heartbeat age", "Value #C": "Stale timeout", "version": "Version", "Value #E": "Version in sync", "Value #F": "Key in sync", "Value #G": "Probe duration", "Value #H": "Last probe", "reason": "Failing with"}}})
      .withTarget(tableQuery("A", "max by (component) (appcluster_component_up{app_cluster=\"$app_cluster\", server=\"$server\"})"))
      .withTarget(tableQuery("B", "max by (component) (appcluster_component_heartbeat_age_seconds{app_cluster=\"$app_cluster\", server=\"$server\"})"))
      .withTarget(tableQuery("C", "max by (component) (appcluster_component_stale_timeout_seconds{app_cluster=\"$app_cluster\", server=\"$server\"})"))
      .withTarget(tableQuery("D", "max by (component, version) (appcluster_component_info{app_cluster=\"$app_cluster\", server=\"$server\"})"))
      .withTarget(tableQuery("E", "max by (component) (appcluster_component_version_in_sync{app_cluster=\"$app_cluster\", server=\"$server\"})"))
      .withTarget(tableQuery("F", "max by (component) (appcluster_component_key_in_sync{app_cluster=\"$app_cluster\", server=\"$server\"})"))
      .withTarget(tableQuery("G", "max by (component) (appcluster_component_probe_duration_seconds{app_cluster=\"$app_cluster\", server=\"$server\"})"))
      .withTarget(tableQuery("H", "max by (component) (appcluster_component_last_probe_timestamp_seconds{app_cluster=\"$app_cluster\", server=\"$server\"}) * 1000"))
      .withTarget(tableQuery("I", "max by (component, reason) (appcluster_component_probe_failure_reason{app_cluster=\"$app_cluster\", server=\"$server\"})")),
    stateTimelinePanel({
      id: 7,
      title: "Components up",
      description: "Result of each probe over time.",
      gridPos: { h: 7, w: 24, x: 0, y: 15 },
      unit: "none",
      mappings: [valueMap(UP)],
    })
      .withTarget(query("A", "max by (component) (appcluster_component_up{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}}" })),
    timeseriesPanel({
      id: 8,
      title: "Probe duration",
      description: "Duration of the last probe of each component.",
      gridPos: { h: 8, w: 12, x: 0, y: 22 },
      unit: "s",
    })
      .withTarget(query("A", "max by (component) (appcluster_component_probe_duration_seconds{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}}" })),
    timeseriesPanel({
      id: 9,
      title: "Probe failures by reason",
      description: "Failed probes per second, by component and reason.",
      gridPos: { h: 8, w: 12, x: 12, y: 22 },
      unit: "ops",
    })
      .withTarget(query("A", "max by (component, reason) (rate(appcluster_component_probe_failures_total{app_cluster=\"$app_cluster\", server=\"$server\"}[$__rate_interval]))", { legend: "{{component}}: {{reason}}" })),
    timeseriesPanel({
      id: 10,
      title: "Heartbeat age",
      description: "Age of each component's last heartbeat, with its stale timeout dashed.",
      gridPos: { h: 8, w: 24, x: 0, y: 30 },
      unit: "s",
    })
      .overrideByQuery("B", [{ id: "custom.lineStyle", value: {"fill": "dash", "dash": [10, 10]} }, { id: "custom.fillOpacity", value: 0 }])
      .withTarget(query("A", "max by (component) (appcluster_component_heartbeat_age_seconds{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}}" }))
      .withTarget(query("B", "max by (component) (appcluster_component_stale_timeout_seconds{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}} stale timeout" })),
    row(11, "Versions and keys", 38),
    stateTimelinePanel({
      id: 12,
      title: "Version history",
      description: "Software version each component reported over time; one lane per component and version.",
      gridPos: { h: 8, w: 12, x: 0, y: 39 },
      unit: "none",
      mappings: [valueMap({"1": {"text": "running", "color": "blue", "index": 0}})],
    })
      .withTarget(query("A", "max by (component, version) (appcluster_component_info{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}} {{version}}" })),
    stateTimelinePanel({
      id: 13,
      title: "Version and key sync",
      description: "Whether each component's version and encryption key match the cluster reference.",
      gridPos: { h: 8, w: 12, x: 12, y: 39 },
      unit: "none",
      mappings: [valueMap(IN_SYNC)],
    })
      .withTarget(query("A", "max by (component) (appcluster_component_version_in_sync{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}} version" }))
      .withTarget(query("B", "max by (component) (appcluster_component_key_in_sync{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}} key" })),
    row(14, "Workload and facts", 47),
    timeseriesPanel({
      id: 15,
      title: "Workload",
      description: "Numbers the components report (extract values such as sessions, transfers, queued events), by value name; the unit is in the name.",
      gridPos: { h: 8, w: 12, x: 0, y: 48 },
      unit: "short",
    })
      .withTarget(query("A", "max by (component, name) (appcluster_component_value{app_cluster=\"$app_cluster\", server=\"$server\"})", { legend: "{{component}} {{name}}" })),
    tablePanel({
      id: 16,
      title: "Facts",
      description: "Text facts the components report now (role, leader, build), by fact name.",
      gridPos: { h: 8, w: 12, x: 12, y: 48 },
      unit: "string",
    })
      .withTransformation({"id": "organize", "options": {"excludeByName": {"Time": true, "Value": true}, "indexByName": {"component": 0, "fact": 1, "value": 2}, "renameByName": {"component": "Component", "fact": "Fact", "value": "Value"}}})
      .withTarget(tableQuery("A", "max by (component, fact, value) (appcluster_component_fact_info{app_cluster=\"$app_cluster\", server=\"$server\"})")),
  ];
}
