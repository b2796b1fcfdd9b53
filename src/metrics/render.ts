import type { Registry } from 'prom-client';
import type { ClusterConfig } from '../config/types.js';
import { failureReason, heartbeatAgeMs, heartbeatMsOf, inSync, osOf, type ClusterJudgement, type Judgement } from '../evaluate/evaluate.js';
import type { ComponentRecord } from '../evaluate/record.js';
import type { ExpectationStatus } from '../evaluate/snapshot.js';
import { clusterMetrics as m, type MetricSpec } from './catalogue.js';
import { TextBuffer, type BufferPool } from './text-buffer.js';

/**
 * The label sets of one cluster's series, as UTF-8 bytes, escaped, without the closing
 * brace. They depend on the configuration only (names, address, site, role), so they are
 * made once per configured cluster and shared by every later scrape. Each list holds views
 * of one byte array: 30,000 components cost one array and 30,000 small views.
 */
interface ClusterLabels {
  /** `app_cluster="…"` */
  readonly cluster: Uint8Array;
  /** Per server: `app_cluster="…",server="…"`. */
  readonly servers: Labels;
  /** Per server: `app_cluster="…",server="…",address="…",site="…",role="…",os="` (the OS is reported, so written per scrape). */
  readonly serverInfo: Labels;
  /** Per component, servers in order and each server's in order: `app_cluster="…",server="…",component="…"`. */
  readonly components: Labels;
}

type Labels = readonly Uint8Array[];

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const QUOTE = 0x22;

/** Label sets by configured cluster, made on its first scrape (a reload makes new configurations). */
const labelCache = new WeakMap<ClusterConfig, ClusterLabels>();

function labelsOf(c: ClusterConfig): ClusterLabels {
  let labels = labelCache.get(c);
  if (!labels) {
    labels = buildLabels(c);
    labelCache.set(c, labels);
  }
  return labels;
}

function buildLabels(c: ClusterConfig): ClusterLabels {
  const list = (n: number, write: (out: TextBuffer, i: number) => void): Labels => {
    const out = new TextBuffer(n * 64);
    const at = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) {
      at[i] = out.pos;
      write(out, i);
    }
    at[n] = out.pos;
    // A copy, so the views do not hold the buffer's spare room.
    const bytes = Uint8Array.from(out.result());
    return Array.from({ length: n }, (_, i) => bytes.subarray(at[i], at[i + 1]));
  };
  const cluster = (out: TextBuffer): void => {
    out.utf8('app_cluster="');
    out.labelValue(c.name);
    out.byte(QUOTE);
  };
  const server = (out: TextBuffer, i: number): void => {
    cluster(out);
    out.utf8(',server="');
    out.labelValue(c.servers[i]!.name);
    out.byte(QUOTE);
  };
  const label = (out: TextBuffer, name: string, value: string): void => {
    out.utf8(`,${name}="`);
    out.labelValue(value);
    out.byte(QUOTE);
  };
  const components: { server: number; name: string }[] = [];
  c.servers.forEach((s, i) => s.components.forEach((comp) => components.push({ server: i, name: comp.name })));
  return {
    cluster: list(1, cluster)[0]!,
    servers: list(c.servers.length, server),
    serverInfo: list(c.servers.length, (out, i) => {
      const s = c.servers[i]!;
      server(out, i);
      label(out, 'address', s.address);
      label(out, 'site', s.site);
      label(out, 'role', s.role);
      out.utf8(',os="');
    }),
    components: list(components.length, (out, j) => {
      server(out, components[j]!.server);
      label(out, 'component', components[j]!.name);
    }),
  };
}

/**
 * Told of the text written so far while a scrape is written (see `exposition`): `written`
 * is a view of the bytes from the start, which never change and stay valid.
 */
export type Progress = (written: Buffer) => void;

/** Text between two calls of a `Progress`: 1 MiB, about 3 ms of writing. */
const PROGRESS_BYTES = 1 << 20;

/** Size of the previous scrape's text: the next one reserves about that much at once. */
let lastSize = 0;
/**
 * Bytes per component of a first scrape: 1,353 with a version, a key, a value and a fact
 * (the benchmark's simulator). Too large a guess is dropped after the scrape (BufferPool),
 * too small a one grows by half.
 */
const FIRST_GUESS = 1400;

/**
 * Writes families in the layout prom-client gives them: `# HELP` and `# TYPE`, then one
 * line per series, families apart by an empty line.
 */
class FamilyWriter {
  private first = true;
  /** `\n<name>{` of the current family. */
  prefix: Uint8Array = new Uint8Array(0);
  /** Where `progress` is called next. */
  private nextProgress = PROGRESS_BYTES;

  constructor(
    readonly out: TextBuffer,
    private readonly progress?: Progress,
  ) {}

  family(spec: MetricSpec): void {
    this.out.utf8(`${this.first ? '' : '\n\n'}# HELP ${spec.name} ${spec.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${spec.name} ${spec.type}`);
    this.first = false;
    this.prefix = text(`\n${spec.name}{`);
  }

  /** A series whose labels are `labels`. */
  series(labels: Uint8Array, value: number): void {
    this.out.bytes(this.prefix);
    this.out.bytes(labels);
    this.close(value);
  }

  /** Starts a series with `labels`, open for more labels (`label`, then `close`). */
  open(labels: Uint8Array): void {
    this.out.bytes(this.prefix);
    this.out.bytes(labels);
  }

  /** Adds a label to an open series: `start` is `,name="`. */
  label(start: Uint8Array, value: string): void {
    this.out.bytes(start);
    this.out.labelValue(value);
    this.out.byte(QUOTE);
  }

  /** Ends an open series with its value. */
  close(value: number): void {
    this.out.byte(0x7d); // }
    this.out.byte(0x20);
    this.out.number(value);
    if (this.progress && this.out.pos >= this.nextProgress) {
      this.nextProgress = this.out.pos + PROGRESS_BYTES;
      this.progress(this.out.written());
    }
  }

  /** A series with one more label after `labels`. */
  seriesWith(labels: Uint8Array, start: Uint8Array, value: string, sample: number): void {
    this.open(labels);
    this.label(start, value);
    this.close(sample);
  }
}

/** `,name="` */
const labelStart = (name: string): Uint8Array => text(`,${name}="`);
const VERSION = labelStart('version');
const REASON = labelStart('reason');
const NAME = labelStart('name');
const FACT = labelStart('fact');
const VALUE = labelStart('value');
const EXPECTATION = labelStart('expectation');
const SERVER = labelStart('server');

/**
 * Every component of the judged clusters, in order: its record and label set, and the
 * figures of the plain families in columns (NaN where there is no series), filled in one
 * pass over the records so that each family is a loop over an array. At 30,000 components
 * the columns take 1.9 MB, against the 30,000 snapshot objects they replace.
 */
interface Components {
  readonly n: number;
  readonly records: readonly (ComponentRecord | undefined)[];
  readonly labels: readonly Uint8Array[];
  /** One column per plain family, in the order of `PLAIN`. */
  readonly columns: readonly Float64Array[];
}

/**
 * The per-component families with one plain series each, in the order the metrics are
 * written (`componentInfo` goes after the sixth), and what each holds for a component
 * that has been probed. One never probed (no `last`) has no series but its stale timeout.
 */
const PLAIN: readonly MetricSpec[] = [m.componentUp, m.lastHeartbeat, m.heartbeatAge, m.staleTimeout, m.versionInSync, m.keyInSync, m.probeDuration, m.lastProbe];
const INFO_AFTER = 6;
const flag = (v: boolean | null): number => (v === null ? NaN : v ? 1 : 0);

/** Every component of the judged clusters (see `Components`), at `nowMs`. */
function flatten(clusters: readonly { readonly c: ClusterJudgement; readonly labels: ClusterLabels }[], nowMs: number): Components {
  let n = 0;
  for (const { labels } of clusters) n += labels.components.length;
  const records: (ComponentRecord | undefined)[] = new Array(n);
  const labels: Uint8Array[] = new Array(n);
  const columns = PLAIN.map(() => new Float64Array(n).fill(NaN));
  const [up, heartbeat, age, staleTimeout, versionInSync, keyInSync, duration, lastProbe] = columns as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  let k = 0;
  for (const { c, labels: l } of clusters) {
    const servers = c.config.servers;
    let own = 0;
    for (let i = 0; i < servers.length; i++) {
      const configs = servers[i]!.components;
      const recs = c.records[i]!;
      for (let j = 0; j < configs.length; j++, k++) {
        const config = configs[j]!;
        const r = recs[j];
        records[k] = r;
        labels[k] = l.components[own++]!;
        staleTimeout[k] = config.staleTimeoutMs / 1000;
        const last = r?.last;
        if (!last) continue;
        up[k] = last.success ? 1 : 0;
        const heartbeatMs = heartbeatMsOf(r);
        if (heartbeatMs !== undefined) {
          heartbeat[k] = heartbeatMs / 1000;
          age[k] = heartbeatAgeMs(r, nowMs)! / 1000;
        }
        versionInSync[k] = flag(inSync(r.version, c.refs.versions[config.name]));
        keyInSync[k] = flag(inSync(r.keyHash, c.refs.key));
        duration[k] = last.durationMs / 1000;
        lastProbe[k] = last.finishedMs / 1000;
      }
    }
  }
  return { n, records, labels, columns };
}

/**
 * The cluster metrics of a round's judgement in the text exposition format, written straight
 * from the configuration, the records and the cluster judgements on every scrape, so a
 * server removed from the configuration is gone from the next scrape, and no snapshot object
 * is made per component. The text is the one prom-client would write for the same series
 * (metric, series and label order, escaping, number format; a test holds the two equal,
 * prom-client's written from the judgement's snapshot), without a Registry's per-series
 * label objects and hashes. It is written as bytes into one buffer: the label sets come
 * ready-made per configuration (`labelsOf`), values and numbers are written a character at
 * a time, so a scrape builds no string per series.
 */
function writeClusters(judgement: Judgement, w: FamilyWriter): void {
  const clusters = judgement.clusters().map((c) => ({ c, labels: labelsOf(c.config) }));
  const { n, records, labels: labelSets, columns } = flatten(clusters, judgement.nowMs);
  const plain = (f: number): void => {
    w.family(PLAIN[f]!);
    const column = columns[f]!;
    for (let j = 0; j < n; j++) {
      const v = column[j]!;
      if (v === v) w.series(labelSets[j]!, v); // not NaN
    }
  };
  for (let f = 0; f < INFO_AFTER; f++) plain(f);
  w.family(m.componentInfo);
  for (let j = 0; j < n; j++) {
    const r = records[j];
    if (r?.last && r.version !== undefined) w.seriesWith(labelSets[j]!, VERSION, r.version, 1);
  }
  for (let f = INFO_AFTER; f < PLAIN.length; f++) plain(f);
  w.family(m.probeFailureReason);
  for (let j = 0; j < n; j++) {
    const reason = failureReason(records[j]?.last);
    if (reason) w.seriesWith(labelSets[j]!, REASON, reason, 1);
  }

  w.family(m.serverOnline);
  for (const { c, labels } of clusters) {
    c.servers.forEach((s, i) => {
      if (s.state !== 'pending') w.series(labels.servers[i]!, s.state === 'online' ? 1 : 0);
    });
  }
  w.family(m.serverInfo);
  for (const { c, labels } of clusters) {
    c.records.forEach((recs, i) => {
      w.open(labels.serverInfo[i]!);
      w.out.labelValue(osOf(recs) ?? '');
      w.out.byte(QUOTE);
      w.close(1);
    });
  }
  // Cluster-level series are few: written from strings.
  const clusterSeries = (labels: ClusterLabels, rest: string, value: number): void => {
    w.open(labels.cluster);
    w.out.utf8(rest);
    w.close(value);
  };
  w.family(m.clusterInfo);
  for (const { c, labels } of clusters) clusterSeries(labels, `,load_balancing="${c.config.loadBalancing}",automatic_failover="${c.config.automaticFailover}"`, 1);
  w.family(m.heartbeatInterval);
  for (const { c, labels } of clusters) clusterSeries(labels, '', c.config.heartbeatIntervalMs / 1000);
  w.family(m.keyFingerprints);
  for (const { c, labels } of clusters) clusterSeries(labels, '', c.refs.keys);

  // Families with any number of series per component.
  w.family(m.probeFailures);
  for (let j = 0; j < n; j++) {
    const failures = records[j]?.failures;
    // for-in visits own keys in the order Object.entries() gives (these are plain objects).
    for (const reason in failures) w.seriesWith(labelSets[j]!, REASON, reason, failures[reason as keyof typeof failures]!);
  }
  w.family(m.componentValue);
  for (let j = 0; j < n; j++) {
    const values = records[j]?.last?.values;
    for (const name in values) w.seriesWith(labelSets[j]!, NAME, name, values[name]!);
  }
  // A fact is what the component says now: a component that does not answer says nothing
  // (its last role must not count as a second primary in PromQL).
  w.family(m.factInfo);
  for (let j = 0; j < n; j++) {
    const r = records[j];
    if (r?.last?.success !== true) continue;
    const facts = r.facts;
    for (const fact in facts) {
      w.open(labelSets[j]!);
      w.label(FACT, fact);
      w.label(VALUE, facts[fact]!);
      w.close(1);
    }
  }
  const expectation = (spec: MetricSpec, value: (e: ExpectationStatus) => number | null): void => {
    w.family(spec);
    for (const { c, labels } of clusters) {
      for (const e of c.expectations) {
        const v = value(e);
        if (v === null) continue;
        w.open(labels.cluster);
        w.label(EXPECTATION, e.name);
        w.close(v);
      }
    }
  };
  expectation(m.expectationServers, (e) => e.servers);
  expectation(m.expectationMinServers, (e) => e.min);
  expectation(m.expectationMaxServers, (e) => e.max);
  w.family(m.expectationMemberInfo);
  for (const { c, labels } of clusters) {
    for (const e of c.expectations) {
      for (const server of e.matching) {
        w.open(labels.cluster);
        w.label(EXPECTATION, e.name);
        w.label(SERVER, server);
        w.close(1);
      }
    }
  }
}

/**
 * A whole scrape: the judgement's cluster metrics, then the exporter's own registry, as
 * UTF-8 text in the exposition format. The result is a view of a buffer taken from `pool`
 * when one is given (give it back once it is sent), else of a new one. `progress`, when
 * given, is told of the text written so far about every MiB, so that a response can send
 * it while the rest is written (the cluster metrics are written in one go, without
 * yielding, so the records cannot change under them).
 * @throws Error when the judgement's round has passed (`Judgement.clusters`).
 */
export async function exposition(judgement: Judgement, own: Registry, pool?: BufferPool, progress?: Progress): Promise<Buffer> {
  let components = 0;
  for (const c of judgement.config.clusters) for (const s of c.servers) components += s.components.length;
  // Room to grow a little (2%: 0.8 MB at 30,000 components), so that the next scrape fits
  // in the buffer this one gives back.
  const out = new TextBuffer(lastSize > 0 ? lastSize * 1.02 + 65536 : components * FIRST_GUESS, pool);
  writeClusters(judgement, new FamilyWriter(out, progress));
  out.utf8('\n\n');
  out.utf8(await own.metrics());
  lastSize = out.pos;
  return out.result();
}
