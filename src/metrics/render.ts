import type { Registry } from 'prom-client';
import type { Snapshot } from '../evaluate/snapshot.js';
import { clusterMetrics as m, type MetricSpec } from './catalogue.js';

const NEEDS_ESCAPE = /[\\\n"]/;
/** A label value as prom-client writes it: backslash, newline and double quote escaped. */
function esc(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

/**
 * The cluster metrics of a snapshot in the text exposition format, written straight from
 * the snapshot on every scrape, so a server removed from the configuration is gone from
 * the next scrape. The text is the one prom-client would write for the same series (metric,
 * series and label order, escaping, number format; a test holds the two equal), without a
 * Registry's per-series label objects and hashes: each component's label string is built
 * once and shared by all its series.
 */
export function renderSnapshotText(snapshot: Snapshot): string {
  const order: MetricSpec[] = [
    m.componentUp,
    m.lastHeartbeat,
    m.heartbeatAge,
    m.staleTimeout,
    m.versionInSync,
    m.keyInSync,
    m.componentInfo,
    m.probeDuration,
    m.lastProbe,
    m.probeFailureReason,
    m.serverOnline,
    m.serverInfo,
    m.clusterInfo,
    m.heartbeatInterval,
    m.keyFingerprints,
    m.probeFailures,
  ];
  const lines = new Map<MetricSpec, string[]>(order.map((s) => [s, [`# HELP ${s.name} ${s.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${s.name} ${s.type}`]]));
  const out = (s: MetricSpec, labels: string, value: number): void => {
    lines.get(s)!.push(`${s.name}{${labels}} ${num(value)}`);
  };
  for (const c of snapshot.clusters) {
    const cl = `app_cluster="${esc(c.name)}"`;
    out(m.clusterInfo, `${cl},load_balancing="${c.loadBalancing}",automatic_failover="${c.automaticFailover}"`, 1);
    out(m.heartbeatInterval, cl, c.heartbeatIntervalSeconds);
    out(m.keyFingerprints, cl, c.keyFingerprints);
    for (const s of c.servers) {
      const sl = `${cl},server="${esc(s.name)}"`;
      out(m.serverInfo, `${sl},address="${esc(s.address)}",site="${esc(s.site)}",role="${esc(s.role)}",os="${esc(s.os ?? '')}"`, 1);
      if (s.state !== 'pending') out(m.serverOnline, sl, s.state === 'online' ? 1 : 0);
      for (const comp of s.components) {
        const l = `${sl},component="${esc(comp.name)}"`;
        out(m.staleTimeout, l, comp.staleTimeoutSeconds);
        for (const [reason, n] of Object.entries(comp.failures)) out(m.probeFailures, `${l},reason="${esc(reason)}"`, n);
        if (comp.up === null) continue;
        out(m.componentUp, l, comp.up ? 1 : 0);
        if (comp.reason) out(m.probeFailureReason, `${l},reason="${esc(comp.reason)}"`, 1);
        if (comp.lastProbe !== null) out(m.lastProbe, l, comp.lastProbe);
        if (comp.probeDurationSeconds !== null) out(m.probeDuration, l, comp.probeDurationSeconds);
        if (comp.lastHeartbeat !== null) out(m.lastHeartbeat, l, comp.lastHeartbeat);
        if (comp.heartbeatAgeSeconds !== null) out(m.heartbeatAge, l, comp.heartbeatAgeSeconds);
        if (comp.versionInSync !== null) out(m.versionInSync, l, comp.versionInSync ? 1 : 0);
        if (comp.keyInSync !== null) out(m.keyInSync, l, comp.keyInSync ? 1 : 0);
        if (comp.version !== null) out(m.componentInfo, `${l},version="${esc(comp.version)}"`, 1);
      }
    }
  }
  return order.map((s) => lines.get(s)!.join('\n')).join('\n\n');
}

/** A whole scrape: the snapshot's cluster metrics, then the exporter's own registry. */
export async function exposition(snapshot: Snapshot, own: Registry): Promise<string> {
  return `${renderSnapshotText(snapshot)}\n\n${await own.metrics()}`;
}
