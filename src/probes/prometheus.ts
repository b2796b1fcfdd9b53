import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { PrometheusEndpoint } from '../config/types.js';
import { httpKind, type BodyParser } from './http.js';
import type { ProbeKind } from './types.js';

/**
 * What the probe asks for: the text format 0.0.4 (prometheus.io, "Exposition formats"), so
 * that a server which also speaks OpenMetrics or protobuf answers in the one this parses.
 */
const ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

/** One series of an exposition as components read it. */
interface ExposedSample {
  /** The sample value: a number, or its text when it is not finite (`+Inf`, `-Inf`, `NaN`). */
  readonly value: number | string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * `prometheus`: GETs a product's own Prometheus text exposition (etcd's and Patroni's
 * `/metrics`), as the http probe does (deadline, TLS, body limit, decoding), and hands the
 * components its samples (see `readExposition`) to read with JSON paths.
 */
export const prometheusProbe: ProbeKind<PrometheusEndpoint> = (e, ctx) => {
  const configured = Object.keys(e.headers).some((name) => name.toLowerCase() === 'accept');
  return httpKind(configured ? e : { ...e, headers: { ...e.headers, accept: ACCEPT } }, ctx, readExposition);
};

/** Metric and label names of the data model (prometheus.io, "Data model"). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** A sample value as Go's strconv.ParseFloat, which Prometheus's text parser uses, takes it: decimal, hex, Inf and NaN. */
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|0[xX][0-9a-fA-F]+|inf(?:inity)?|nan)$/i;

/**
 * The exposition as an object that JSON paths read: under each family's name its first
 * sample (`etcd_server_is_leader.value`, `etcd_server_version.labels.server_version`), and
 * under each series' own name with its labels sorted by name
 * (`["etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"}"].value`, as the text
 * format quotes them) every sample. Of a histogram or summary, its `_sum` and `_count`
 * series, not its buckets or quantiles.
 *
 * Parsed with parse-prometheus-text-format, then held to what Prometheus itself accepts of
 * every sample line (a metric name, a float value): one bad line fails the whole answer
 * `bad_body`, as it fails a Prometheus scrape.
 */
const readExposition: BodyParser = (text) => {
  let families: ReturnType<typeof parsePrometheusTextFormat>;
  try {
    families = parsePrometheusTextFormat(text);
  } catch {
    return { problem: 'not Prometheus text format' };
  }
  const out: Record<string, ExposedSample> = Object.create(null) as Record<string, ExposedSample>;
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) return { problem: 'not Prometheus text format' };
    for (const m of family.metrics) {
      const labels = m.labels ?? {};
      const series: [string, string | undefined][] = m.value !== undefined ? [[family.name, m.value]] : [[`${family.name}_sum`, m.sum], [`${family.name}_count`, m.count]];
      for (const [name, text] of series) {
        if (text === undefined) continue;
        if (!FLOAT.test(text)) return { problem: 'not Prometheus text format' };
        const n = Number(text);
        const sample: ExposedSample = { value: Number.isFinite(n) ? n : text, labels };
        out[seriesName(name, labels)] ??= sample;
        out[name] ??= sample;
      }
    }
  }
  return { body: out };
};

/** `name{a="x",b="y"}` with the labels sorted by name and escaped as the text format escapes them; `name` alone without labels. */
function seriesName(name: string, labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `${name}{${keys.map((k) => `${k}="${escape(labels[k]!)}"`).join(',')}}`;
}
