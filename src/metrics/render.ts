import type { Registry } from 'prom-client';
import { judgedFrom } from '../evaluate/evaluate.js';
import type { ClusterStatus, ComponentStatus, ExpectationStatus, Snapshot } from '../evaluate/snapshot.js';
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
  /** Per server: how many components it has (checked against the snapshot). */
  readonly componentCounts: Int32Array;
}

type Labels = readonly Uint8Array[];

const text = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const QUOTE = 0x22;

/** Label sets by the configured cluster a status was judged from (or the status itself, for one made by hand). */
const labelCache = new WeakMap<object, ClusterLabels>();

function labelsOf(c: ClusterStatus): ClusterLabels {
  const key = judgedFrom(c) ?? c;
  let labels = labelCache.get(key);
  if (!labels || !sameShape(labels, c)) {
    labels = buildLabels(c);
    labelCache.set(key, labels);
  }
  return labels;
}

function sameShape(labels: ClusterLabels, c: ClusterStatus): boolean {
  const counts = labels.componentCounts;
  if (counts.length !== c.servers.length) return false;
  for (let i = 0; i < counts.length; i++) if (counts[i] !== c.servers[i]!.components.length) return false;
  return true;
}

function buildLabels(c: ClusterStatus): ClusterLabels {
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
    componentCounts: Int32Array.from(c.servers, (s) => s.components.length),
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

/** A component family's series: the component's value, or null for none. */
type ComponentValue = (c: ComponentStatus) => number | null;
const bool = (v: boolean | null): number | null => (v === null ? null : v ? 1 : 0);

/** The per-component families with one plain series each, in the order the metrics are written. */
const PLAIN_BEFORE_INFO: readonly (readonly [MetricSpec, ComponentValue])[] = [
  [m.componentUp, (c) => bool(c.up)],
  [m.lastHeartbeat, (c) => (c.up === null ? null : c.lastHeartbeat)],
  [m.heartbeatAge, (c) => (c.up === null ? null : c.heartbeatAgeSeconds)],
  [m.staleTimeout, (c) => c.staleTimeoutSeconds],
  [m.versionInSync, (c) => (c.up === null ? null : bool(c.versionInSync))],
  [m.keyInSync, (c) => (c.up === null ? null : bool(c.keyInSync))],
];
const PLAIN_AFTER_INFO: readonly (readonly [MetricSpec, ComponentValue])[] = [
  [m.probeDuration, (c) => (c.up === null ? null : c.probeDurationSeconds)],
  [m.lastProbe, (c) => (c.up === null ? null : c.lastProbe)],
];

/**
 * The cluster metrics of a snapshot in the text exposition format, written straight from
 * the snapshot on every scrape, so a server removed from the configuration is gone from
 * the next scrape. The text is the one prom-client would write for the same series (metric,
 * series and label order, escaping, number format; a test holds the two equal), without a
 * Registry's per-series label objects and hashes. It is written as bytes into one buffer:
 * the label sets come ready-made per configuration (`labelsOf`), values and numbers are
 * written a character at a time, so a scrape builds no string per series.
 */
function writeSnapshot(snapshot: Snapshot, w: FamilyWriter): void {
  const clusters = snapshot.clusters.map((c) => ({ c, labels: labelsOf(c) }));
  // Every component and its label set, in order, so that each family is one flat loop.
  const all: ComponentStatus[] = [];
  const labelSets: Uint8Array[] = [];
  for (const { c, labels } of clusters) {
    for (const s of c.servers) for (const comp of s.components) all.push(comp);
    for (const l of labels.components) labelSets.push(l);
  }
  const n = all.length;
  /** Calls `each` for every component with its label set. */
  const components = (each: (comp: ComponentStatus, labels: Uint8Array) => void): void => {
    for (let j = 0; j < n; j++) each(all[j]!, labelSets[j]!);
  };
  const plain = ([spec, value]: readonly [MetricSpec, ComponentValue]): void => {
    w.family(spec);
    for (let j = 0; j < n; j++) {
      const v = value(all[j]!);
      if (v !== null) w.series(labelSets[j]!, v);
    }
  };
  PLAIN_BEFORE_INFO.forEach(plain);
  w.family(m.componentInfo);
  components((comp, labels) => {
    if (comp.up !== null && comp.version !== null) w.seriesWith(labels, VERSION, comp.version, 1);
  });
  PLAIN_AFTER_INFO.forEach(plain);
  w.family(m.probeFailureReason);
  components((comp, labels) => {
    if (comp.up !== null && comp.reason) w.seriesWith(labels, REASON, comp.reason, 1);
  });

  w.family(m.serverOnline);
  for (const { c, labels } of clusters) {
    c.servers.forEach((s, i) => {
      if (s.state !== 'pending') w.series(labels.servers[i]!, s.state === 'online' ? 1 : 0);
    });
  }
  w.family(m.serverInfo);
  for (const { c, labels } of clusters) {
    c.servers.forEach((s, i) => {
      w.open(labels.serverInfo[i]!);
      w.out.labelValue(s.os ?? '');
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
  for (const { c, labels } of clusters) clusterSeries(labels, `,load_balancing="${c.loadBalancing}",automatic_failover="${c.automaticFailover}"`, 1);
  w.family(m.heartbeatInterval);
  for (const { c, labels } of clusters) clusterSeries(labels, '', c.heartbeatIntervalSeconds);
  w.family(m.keyFingerprints);
  for (const { c, labels } of clusters) clusterSeries(labels, '', c.keyFingerprints);

  // Families with any number of series per component.
  w.family(m.probeFailures);
  components((comp, labels) => {
    const failures = comp.failures;
    // for-in visits own keys in the order Object.entries() gives (these are plain objects).
    for (const reason in failures) w.seriesWith(labels, REASON, reason, failures[reason as keyof typeof failures]!);
  });
  w.family(m.componentValue);
  components((comp, labels) => {
    if (comp.up === null) return;
    const values = comp.values;
    for (const name in values) w.seriesWith(labels, NAME, name, values[name]!);
  });
  // A fact is what the component says now: a component that does not answer says nothing
  // (its last role must not count as a second primary in PromQL).
  w.family(m.factInfo);
  components((comp, labels) => {
    if (comp.up !== true) return;
    const facts = comp.facts;
    for (const fact in facts) {
      w.open(labels);
      w.label(FACT, fact);
      w.label(VALUE, facts[fact]!);
      w.close(1);
    }
  });
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
 * A whole scrape: the snapshot's cluster metrics, then the exporter's own registry, as
 * UTF-8 text in the exposition format. The result is a view of a buffer taken from `pool`
 * when one is given (give it back once it is sent), else of a new one. `progress`, when
 * given, is told of the text written so far about every MiB, so that a response can send
 * it while the rest is written (the whole text is written in one go, without yielding).
 */
export async function exposition(snapshot: Snapshot, own: Registry, pool?: BufferPool, progress?: Progress): Promise<Buffer> {
  let components = 0;
  for (const c of snapshot.clusters) for (const s of c.servers) components += s.components.length;
  // Room to grow a little (2%: 0.8 MB at 30,000 components), so that the next scrape fits
  // in the buffer this one gives back.
  const out = new TextBuffer(lastSize > 0 ? lastSize * 1.02 + 65536 : components * FIRST_GUESS, pool);
  writeSnapshot(snapshot, new FamilyWriter(out, progress));
  out.utf8('\n\n');
  out.utf8(await own.metrics());
  lastSize = out.pos;
  return out.result();
}
