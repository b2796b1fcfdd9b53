import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { exporterMetrics as m, type MetricSpec } from './catalogue.js';
import { VERSION } from '../version.js';

/**
 * prom-client's default gauges that carry a `_total` suffix, which Prometheus reserves for
 * counters (`promtool check metrics` reports each one). Each is the sum of a per-type gauge
 * that prom-client reads from the same call and that stays exposed: `nodejs_active_handles`,
 * `nodejs_active_requests` and `nodejs_active_resources` with a `type` label, so
 * `sum without (type) (...)` gives the same figure. Names from prom-client 15
 * lib/metrics/process{Handles,Requests,Resources}.js; the upstream report
 * (prometheus/client_js#283) is still open and upstream still exposes them.
 */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

const opts = (s: MetricSpec, registry: Registry) => ({ name: s.name, help: s.help, labelNames: [...s.labels], registers: [registry] });

/** The exporter's own metrics: one long-lived registry, merged into every scrape. */
export class OwnMetrics {
  readonly registry = new Registry();
  readonly reloadSuccessful = new Gauge(opts(m.reloadSuccessful, this.registry));
  readonly reloadSuccessTimestamp = new Gauge(opts(m.reloadSuccessTimestamp, this.registry));
  readonly probes = new Counter(opts(m.probes, this.registry));
  readonly probeDuration = new Histogram({
    ...opts(m.probeDuration, this.registry),
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  readonly scheduleLag = new Histogram({
    ...opts(m.scheduleLag, this.registry),
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15],
  });
  readonly probesInFlight = new Gauge(opts(m.probesInFlight, this.registry));
  readonly probesSkipped = new Counter(opts(m.probesSkipped, this.registry));
  readonly probesAbandoned = new Counter(opts(m.probesAbandoned, this.registry));

  constructor(withProcessMetrics = true) {
    new Gauge(opts(m.buildInfo, this.registry)).set({ version: VERSION, node_version: process.version }, 1);
    for (const result of ['success', 'failure']) this.probes.inc({ result }, 0);
    for (const cause of ['open_files', 'stalled']) this.probesAbandoned.inc({ cause }, 0);
    // The event loop delay monitor samples every 100 ms, not prom-client's 10 ms: at 10 ms its
    // wake-ups alone cost an idle exporter about 1% of a core. Probe lateness itself is
    // measured exactly by appcluster_exporter_probe_schedule_lag_seconds.
    if (withProcessMetrics) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
      for (const name of GAUGES_NAMED_TOTAL) this.registry.removeSingleMetric(name);
    }
  }

  reloaded(ok: boolean, nowMs = Date.now()): void {
    this.reloadSuccessful.set(ok ? 1 : 0);
    if (ok) this.reloadSuccessTimestamp.set(nowMs / 1000);
  }

  readonly shardInfo = new Gauge(opts(m.shardInfo, this.registry));
  readonly shardClusters = new Gauge(opts(m.shardClusters, this.registry));
  readonly shardComponents = new Gauge(opts(m.shardComponents, this.registry));

  /** Sets the shard gauges: `index` of `count`, and how many clusters and components it owns now. */
  sharded(index: number, count: number, clusters: number, components: number): void {
    this.shardInfo.reset();
    this.shardInfo.set({ index: String(index), count: String(count) }, 1);
    this.shardClusters.set(clusters);
    this.shardComponents.set(components);
  }
}
