/** The panels of dashboards/exporter.json, in order; `mixin/dashboards.ts` adds the dashboard around them. */
import * as common from '@grafana/grafana-foundation-sdk/common';
import { query, tableQuery, valueMap, row, statPanel, tablePanel, timeseriesPanel, UP, type PanelOrRow } from './lib.js';

/** The p50, p90 and p99 of one of the exporter's histograms per instance, as targets A, B and C. */
const quantiles = (histogram: string) =>
  ([["A", 0.5], ["B", 0.9], ["C", 0.99]] as const).map(([refId, q]) =>
    query(refId, `histogram_quantile(${q}, sum by (instance, le) (rate(${histogram}_bucket{instance=~"$instance"}[$__rate_interval])))`, { legend: `{{instance}} p${Math.round(q * 100)}` }),
  );

export function exporterPanels(): PanelOrRow[] {
  return [
    row(1, "Health", 0),
    statPanel({
      id: 2,
      title: "Scrape target",
      description: "Whether Prometheus can scrape the exporter.",
      gridPos: { h: 4, w: 4, x: 0, y: 1 },
      unit: "none",
      mappings: [valueMap(UP)],
      colorMode: common.BigValueColorMode.Background,
    })
      .withTarget(query("A", "up{instance=~\"$instance\"}", { instant: true, legend: "{{instance}}" })),
    statPanel({
      id: 3,
      title: "Config reload",
      description: "Whether the last configuration reload succeeded; a failed reload keeps the last good configuration running.",
      gridPos: { h: 4, w: 4, x: 4, y: 1 },
      unit: "none",
      mappings: [valueMap({"0": {"text": "Failed", "color": "red", "index": 1}, "1": {"text": "OK", "color": "green", "index": 0}})],
      colorMode: common.BigValueColorMode.Background,
    })
      .withTarget(query("A", "appcluster_exporter_config_last_reload_successful{instance=~\"$instance\"}", { instant: true, legend: "{{instance}}" })),
    statPanel({
      id: 4,
      title: "Last successful reload",
      description: "When the configuration was last loaded successfully.",
      gridPos: { h: 4, w: 4, x: 8, y: 1 },
      unit: "dateTimeFromNow",
    })
      .withTarget(query("A", "appcluster_exporter_config_last_reload_success_timestamp_seconds{instance=~\"$instance\"} * 1000", { instant: true, legend: "{{instance}}" })),
    statPanel({
      id: 5,
      title: "Probes in flight now",
      description: "Probes running now.",
      gridPos: { h: 4, w: 4, x: 12, y: 1 },
      unit: "none",
    })
      .withTarget(query("A", "appcluster_exporter_probes_in_flight{instance=~\"$instance\"}", { instant: true, legend: "{{instance}}" })),
    tablePanel({
      id: 6,
      title: "Build",
      description: "Exporter and Node.js versions.",
      gridPos: { h: 4, w: 8, x: 16, y: 1 },
      unit: "string",
    })
      .withTransformation({"id": "organize", "options": {"excludeByName": {"Time": true, "Value": true, "__name__": true, "job": true}, "indexByName": {"instance": 0, "version": 1, "node_version": 2}, "renameByName": {"instance": "Instance", "version": "Version", "node_version": "Node.js"}}})
      .withTarget(tableQuery("A", "appcluster_exporter_build_info{instance=~\"$instance\"}")),
    row(7, "Probes", 5),
    timeseriesPanel({
      id: 8,
      title: "Probe rate by result",
      description: "Probes run per second, by result.",
      gridPos: { h: 8, w: 12, x: 0, y: 6 },
      unit: "ops",
    })
      .withTarget(query("A", "sum by (instance, result) (rate(appcluster_exporter_probes_total{instance=~\"$instance\"}[$__rate_interval]))", { legend: "{{instance}} {{result}}" })),
    timeseriesPanel({
      id: 9,
      title: "Probe duration",
      description: "Quantiles and mean of probe durations, from the exporter's histogram.",
      gridPos: { h: 8, w: 12, x: 12, y: 6 },
      unit: "s",
    })
      .targets([
        ...quantiles("appcluster_exporter_probe_duration_seconds"),
        query("D", "sum by (instance) (rate(appcluster_exporter_probe_duration_seconds_sum{instance=~\"$instance\"}[$__rate_interval]))\n/\nsum by (instance) (rate(appcluster_exporter_probe_duration_seconds_count{instance=~\"$instance\"}[$__rate_interval]))", { legend: "{{instance}} mean" }),
      ]),
    timeseriesPanel({
      id: 10,
      title: "Schedule lag",
      description: "How late probes start against their heartbeat schedule; growth means the concurrency bound is too low for the configured servers.",
      gridPos: { h: 8, w: 8, x: 0, y: 14 },
      unit: "s",
    })
      .targets(quantiles("appcluster_exporter_probe_schedule_lag_seconds")),
    timeseriesPanel({
      id: 11,
      title: "Probes in flight",
      description: "Probes running at each scrape.",
      gridPos: { h: 8, w: 8, x: 8, y: 14 },
      unit: "none",
    })
      .withTarget(query("A", "appcluster_exporter_probes_in_flight{instance=~\"$instance\"}", { legend: "{{instance}}" })),
    timeseriesPanel({
      id: 12,
      title: "Skipped and abandoned probes",
      description: "Skipped: probes not started because the previous probe of the same component was still running or queued. Abandoned: probes the exporter failed itself (its open files ran out, its prober stalled past the deadline), not counted against the servers (AppClusterExporterOverloaded).",
      gridPos: { h: 8, w: 8, x: 16, y: 14 },
      unit: "ops",
    })
      .withTarget(query("A", "sum by (instance) (rate(appcluster_exporter_probes_skipped_total{instance=~\"$instance\"}[$__rate_interval]))", { legend: "{{instance}} skipped" }))
      .withTarget(query("B", "sum by (instance, cause) (rate(appcluster_exporter_probes_abandoned_total{instance=~\"$instance\"}[$__rate_interval]))", { legend: "{{instance}} abandoned: {{cause}}" })),
    row(13, "Process", 22),
    timeseriesPanel({
      id: 14,
      title: "Scrape duration",
      description: "How long Prometheus takes to scrape the exporter.",
      gridPos: { h: 8, w: 6, x: 0, y: 23 },
      unit: "s",
    })
      .withTarget(query("A", "scrape_duration_seconds{instance=~\"$instance\"}", { legend: "{{instance}}" })),
    timeseriesPanel({
      id: 15,
      title: "CPU",
      description: "CPU time used by the exporter process, as a share of one core.",
      gridPos: { h: 8, w: 6, x: 6, y: 23 },
      unit: "percentunit",
    })
      .withTarget(query("A", "rate(process_cpu_seconds_total{instance=~\"$instance\"}[$__rate_interval])", { legend: "{{instance}}" })),
    timeseriesPanel({
      id: 16,
      title: "Resident memory",
      description: "Resident set size of the exporter process.",
      gridPos: { h: 8, w: 6, x: 12, y: 23 },
      unit: "bytes",
    })
      .withTarget(query("A", "process_resident_memory_bytes{instance=~\"$instance\"}", { legend: "{{instance}}" })),
    timeseriesPanel({
      id: 17,
      title: "Event loop lag",
      description: "Node.js event loop lag of the main thread: a busy loop delays scrapes, the API and judging; probes run on a thread of their own (a probe the exporter itself failed shows under Skipped and abandoned probes).",
      gridPos: { h: 8, w: 6, x: 18, y: 23 },
      unit: "s",
    })
      .withTarget(query("A", "nodejs_eventloop_lag_seconds{instance=~\"$instance\"}", { legend: "{{instance}}" })),
  ];
}
