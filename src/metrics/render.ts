import type { Registry } from 'prom-client';
import type { ClusterStatus, ServerStatus, Snapshot } from '../evaluate/snapshot.js';
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

const CHUNK = 256 * 1024;

/**
 * Collects text as bytes in fixed-size buffers: small pieces are joined into one string of
 * up to 16 K characters (cheap rope concatenation in V8), which is then encoded in one call.
 */
class ByteSink {
  private readonly chunks: Buffer[] = [];
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private pending = '';

  write(s: string): void {
    this.pending += s;
    if (this.pending.length > 16 * 1024) this.flush();
  }

  bytes(): Buffer {
    this.flush();
    this.chunks.push(this.buf.subarray(0, this.pos));
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }

  private flush(): void {
    const s = this.pending;
    this.pending = '';
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (this.pos + s.length * 3 > this.buf.length) {
      this.chunks.push(this.buf.subarray(0, this.pos));
      this.buf = Buffer.allocUnsafe(Math.max(CHUNK, s.length * 3));
      this.pos = 0;
    }
    this.pos += this.buf.write(s, this.pos);
  }
}

type ComponentSeries = ServerStatus['components'][number];
/** One series per component (or none), as `[extra labels, value]`; `null` for no series. */
type ComponentValue = (c: ComponentSeries) => readonly [string, number] | number | null;
const bool = (v: boolean | null): number | null => (v === null ? null : v ? 1 : 0);

/** The per-component families, in the order the metrics are written. */
const COMPONENT_FAMILIES: readonly (readonly [MetricSpec, ComponentValue])[] = [
  [m.componentUp, (c) => bool(c.up)],
  [m.lastHeartbeat, (c) => (c.up === null ? null : c.lastHeartbeat)],
  [m.heartbeatAge, (c) => (c.up === null ? null : c.heartbeatAgeSeconds)],
  [m.staleTimeout, (c) => c.staleTimeoutSeconds],
  [m.versionInSync, (c) => (c.up === null ? null : bool(c.versionInSync))],
  [m.keyInSync, (c) => (c.up === null ? null : bool(c.keyInSync))],
  [m.componentInfo, (c) => (c.up === null || c.version === null ? null : [`,version="${esc(c.version)}"`, 1])],
  [m.probeDuration, (c) => (c.up === null ? null : c.probeDurationSeconds)],
  [m.lastProbe, (c) => (c.up === null ? null : c.lastProbe)],
  [m.probeFailureReason, (c) => (c.up === null || !c.reason ? null : [`,reason="${esc(c.reason)}"`, 1])],
];

/**
 * The cluster metrics of a snapshot in the text exposition format, written straight from
 * the snapshot on every scrape, so a server removed from the configuration is gone from
 * the next scrape. The text is the one prom-client would write for the same series (metric,
 * series and label order, escaping, number format; a test holds the two equal), without a
 * Registry's per-series label objects and hashes, and written as bytes: each component's
 * label string is built once per scrape and shared by all its series.
 */
function writeSnapshot(snapshot: Snapshot, out: ByteSink): void {
  const clusters = snapshot.clusters.map((c) => {
    const cl = `app_cluster="${esc(c.name)}"`;
    return {
      c,
      cl,
      servers: c.servers.map((s) => {
        const sl = `${cl},server="${esc(s.name)}"`;
        return { s, sl, components: s.components.map((comp) => ({ comp, l: `${sl},component="${esc(comp.name)}"` })) };
      }),
    };
  });
  let first = true;
  const family = (spec: MetricSpec, body: (series: (labels: string, value: number) => void) => void): void => {
    out.write(`${first ? '' : '\n\n'}# HELP ${spec.name} ${spec.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${spec.name} ${spec.type}`);
    first = false;
    const prefix = `\n${spec.name}{`;
    body((labels, value) => out.write(`${prefix}${labels}} ${num(value)}`));
  };
  for (const [spec, value] of COMPONENT_FAMILIES) {
    family(spec, (series) => {
      for (const { servers } of clusters) {
        for (const { components } of servers) {
          for (const { comp, l } of components) {
            const v = value(comp);
            if (v === null) continue;
            if (typeof v === 'number') series(l, v);
            else series(l + v[0], v[1]);
          }
        }
      }
    });
  }
  family(m.serverOnline, (series) => {
    for (const { servers } of clusters) {
      for (const { s, sl } of servers) if (s.state !== 'pending') series(sl, s.state === 'online' ? 1 : 0);
    }
  });
  family(m.serverInfo, (series) => {
    for (const { servers } of clusters) {
      for (const { s, sl } of servers) {
        series(`${sl},address="${esc(s.address)}",site="${esc(s.site)}",role="${esc(s.role)}",os="${esc(s.os ?? '')}"`, 1);
      }
    }
  });
  family(m.clusterInfo, (series) => {
    for (const { c, cl } of clusters) series(`${cl},load_balancing="${c.loadBalancing}",automatic_failover="${c.automaticFailover}"`, 1);
  });
  family(m.heartbeatInterval, (series) => {
    for (const { c, cl } of clusters) series(cl, c.heartbeatIntervalSeconds);
  });
  family(m.keyFingerprints, (series) => {
    for (const { c, cl } of clusters) series(cl, c.keyFingerprints);
  });
  // Families with any number of series per component: each component's label string plus
  // the series' own labels.
  const perComponent = (spec: MetricSpec, each: (comp: ComponentSeries, l: string, series: (labels: string, value: number) => void) => void): void =>
    family(spec, (series) => {
      for (const { servers } of clusters) for (const { components } of servers) for (const { comp, l } of components) each(comp, l, series);
    });
  perComponent(m.probeFailures, (comp, l, series) => {
    for (const [reason, n] of Object.entries(comp.failures)) series(`${l},reason="${esc(reason)}"`, n);
  });
  perComponent(m.componentValue, (comp, l, series) => {
    if (comp.up === null) return;
    for (const [name, v] of Object.entries(comp.values)) series(`${l},name="${esc(name)}"`, v);
  });
  // A fact is what the component says now: a component that does not answer says nothing
  // (its last role must not count as a second primary in PromQL).
  perComponent(m.factInfo, (comp, l, series) => {
    if (comp.up !== true) return;
    for (const [fact, v] of Object.entries(comp.facts)) series(`${l},fact="${esc(fact)}",value="${esc(v)}"`, 1);
  });
  const expectation = (spec: MetricSpec, value: (e: ClusterStatus['expectations'][number]) => number | null): void =>
    family(spec, (series) => {
      for (const { c, cl } of clusters) {
        for (const e of c.expectations) {
          const v = value(e);
          if (v !== null) series(`${cl},expectation="${esc(e.name)}"`, v);
        }
      }
    });
  expectation(m.expectationServers, (e) => e.servers);
  expectation(m.expectationMinServers, (e) => e.min);
  expectation(m.expectationMaxServers, (e) => e.max);
  family(m.expectationMemberInfo, (series) => {
    for (const { c, cl } of clusters) {
      for (const e of c.expectations) for (const server of e.matching) series(`${cl},expectation="${esc(e.name)}",server="${esc(server)}"`, 1);
    }
  });
}

/** A whole scrape: the snapshot's cluster metrics, then the exporter's own registry. */
export async function exposition(snapshot: Snapshot, own: Registry): Promise<Buffer> {
  const out = new ByteSink();
  writeSnapshot(snapshot, out);
  out.write('\n\n');
  out.write(await own.metrics());
  return out.bytes();
}
