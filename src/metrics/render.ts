import type { Registry } from 'prom-client';
import type { ClusterConfig, Config } from '../config/types.js';
import { clockOffsetMsOf, factsCurrent, failureReason, heartbeatAgeMs, heartbeatMsOf, keyInSync as keyInSyncOf, osOf, versionInSync as versionInSyncOf, type ClusterJudgement, type Judgement } from '../evaluate/evaluate.js';
import { failureCounts, failureTotal, type Observation } from '../evaluate/record.js';
import { unknownReasons, type ProbeReason } from '../reasons.js';
import type { ExpectationStatus } from '../evaluate/snapshot.js';
import { clusterMetrics as m, configuredLabel, type MetricSpec } from './catalogue.js';
import { TextBuffer } from './text-buffer.js';

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

/** Text per part of a scrape: 1 MiB, a few milliseconds of writing between turns of the event loop. */
export const PART_BYTES = 1 << 20;
/**
 * Room past PART_BYTES in a part's buffer, for the series that cross it (the writer looks
 * after each series, or each component's series); more grows the buffer.
 */
const PART_SLACK = 64 * 1024;

/**
 * Size of the previous scrape's text per configuration, in bytes: the next one reserves
 * about that much at once. Per configuration, so that a reload to another one guesses afresh.
 */
const lastSizes = new WeakMap<Config, number>();
/**
 * Bytes per component of a first scrape, about what a component with a version, a key, a
 * value and a fact takes; too small a guess grows by half.
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

  constructor(
    readonly out: TextBuffer,
    /** The writing pauses (`writeClusters` yields) once a part holds this many bytes. */
    private readonly partBytes: number,
  ) {}

  /** True once the current part is full (never, for a whole scrape). */
  full(): boolean {
    return this.out.pos >= this.partBytes;
  }

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
 * What a scrape writes of every component of the judged clusters, in order, taken from
 * the records in one pass when the scrape starts: the figures of the plain families in
 * columns (NaN where there is no series), and what the other families read. The records
 * change in place at the next round, while a streamed scrape may still be writing: nothing
 * here changes (a last observation, a version, facts and values are replaced, never
 * changed; failure counts change in place, so they are copied, the few that exist).
 */
interface Components {
  readonly n: number;
  readonly labels: readonly Uint8Array[];
  /** One column per plain family, in the order of `PLAIN`. */
  readonly columns: readonly Float64Array[];
  /** Failed probes, whatever the reason: NaN before the first probe. */
  readonly failed: Float64Array;
  /** The last observation, when there was one. */
  readonly lasts: readonly (Observation | undefined)[];
  /** The version of the latest answer, while it is current (`factsCurrent`). */
  readonly versions: readonly (string | undefined)[];
  /** Facts of the latest answer read. */
  readonly facts: readonly (Readonly<Record<string, string>> | undefined)[];
  /** Failure counts by reason; undefined for none. */
  readonly failures: readonly (Readonly<Partial<Record<ProbeReason, number>>> | undefined)[];
  /** Per cluster, per server: the reported operating system (`osOf`). */
  readonly os: readonly (readonly (string | null)[])[];
  /** Per cluster, per server: the clock offset in ms (`clockOffsetMsOf`). */
  readonly clockOffsets: readonly (readonly (number | undefined)[])[];
}

/**
 * The per-component families with one plain series each, in the order the metrics are
 * written (`componentInfo` goes after the sixth), and what each holds for a component
 * that has been probed. One never probed (no `last`) has no series but its stale timeout.
 */
const PLAIN: readonly MetricSpec[] = [m.componentUp, m.lastHeartbeat, m.heartbeatAge, m.staleTimeout, m.versionInSync, m.keyInSync, m.probeDuration, m.lastProbe, m.tlsCertExpiry];
const INFO_AFTER = 6;
const flag = (v: boolean | null): number => (v === null ? NaN : v ? 1 : 0);

/** Every component of the judged clusters (see `Components`), at `nowMs`. At 30,000 components the columns take 2.2 MB. */
function flatten(clusters: readonly { readonly c: ClusterJudgement; readonly labels: ClusterLabels }[], nowMs: number): Components {
  let n = 0;
  for (const { labels } of clusters) n += labels.components.length;
  const labels: Uint8Array[] = new Array(n);
  const lasts: (Observation | undefined)[] = new Array(n);
  const versions: (string | undefined)[] = new Array(n);
  const facts: (Readonly<Record<string, string>> | undefined)[] = new Array(n);
  const failures: (Readonly<Partial<Record<ProbeReason, number>>> | undefined)[] = new Array(n);
  const failed = new Float64Array(n).fill(NaN);
  const columns = PLAIN.map(() => new Float64Array(n).fill(NaN));
  const [up, heartbeat, age, staleTimeout, versionInSync, keyInSync, duration, lastProbe, certExpiry] = columns as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
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
        labels[k] = l.components[own++]!;
        staleTimeout[k] = config.staleTimeoutMs / 1000;
        if (r === undefined) continue;
        failures[k] = failureCounts(r);
        const last = r.last;
        if (!last) continue;
        lasts[k] = last;
        failed[k] = failureTotal(r);
        // Last-known facts are not exported: a series says what the component says now.
        if (factsCurrent(r)) versions[k] = r.version;
        facts[k] = r.facts;
        // Unknown (credentials refused) is neither up nor down: no series, and the failure reason says why.
        if (last.success || !unknownReasons.has(last.reason ?? 'error')) up[k] = last.success ? 1 : 0;
        const heartbeatMs = heartbeatMsOf(r);
        if (heartbeatMs !== undefined) {
          heartbeat[k] = heartbeatMs / 1000;
          age[k] = heartbeatAgeMs(r, nowMs)! / 1000;
        }
        versionInSync[k] = flag(versionInSyncOf(c.refs, config.name, r));
        keyInSync[k] = flag(keyInSyncOf(c.refs, r));
        duration[k] = last.durationMs / 1000;
        lastProbe[k] = last.finishedMs / 1000;
        if (last.certNotAfterMs !== undefined) certExpiry[k] = last.certNotAfterMs / 1000;
      }
    }
  }
  const os = clusters.map(({ c }) => c.records.map(osOf));
  const clockOffsets = clusters.map(({ c }) => c.records.map(clockOffsetMsOf));
  return { n, labels, columns, failed, lasts, versions, facts, failures, os, clockOffsets };
}

/**
 * One stretch of the text: `head` (a family's `# HELP` and `# TYPE`, or nothing), then
 * `write(i)` for i from 0 to `count` - 1, each a handful of series at most.
 */
interface Step {
  readonly head?: () => void;
  readonly count: number;
  readonly write: (i: number) => void;
}

/**
 * Runs `steps` in order, and pauses (yields) whenever the writer's part is full. The only
 * generator of the writing, and a small one: at 300 components one large generator holding
 * every loop took 5 MB more peak RSS, in the memory V8's compiler threads used for it.
 */
function* run(w: FamilyWriter, steps: readonly Step[]): Generator<void, void, void> {
  for (const step of steps) {
    step.head?.();
    for (let i = 0; i < step.count; i++) {
      step.write(i);
      if (w.full()) yield;
    }
  }
  w.out.utf8('\n\n');
}

/**
 * The cluster metrics of a round's judgement in the text exposition format, written straight
 * from the configuration, the records and the cluster judgements on every scrape, so a
 * server removed from the configuration is gone from the next scrape, and no snapshot object
 * is made per component. The text is the one prom-client would write for the same series
 * (metric, series and label order, escaping, number format; a test holds the two equal,
 * prom-client's written from the judgement's snapshot), without a Registry's per-series
 * label objects and hashes. It is written as bytes: the label sets come ready-made per
 * configuration (`labelsOf`), values and numbers are written a character at a time, so a
 * scrape builds no string per series.
 *
 * Returns the writing as a generator (see `run`) that pauses whenever the writer's part is
 * full, so a streamed scrape can hand the part on and wait for it to be sent. Everything it
 * reads of the records is taken here, when it is called (while the judgement is current);
 * nothing it reads later changes.
 */
function writeClusters(judgement: Judgement, w: FamilyWriter): Generator<void, void, void> {
  const clusters = judgement.clusters().map((c) => ({ c, labels: labelsOf(c.config) }));
  const { n, labels: labelSets, columns, failed, lasts, versions, facts, failures, os, clockOffsets } = flatten(clusters, judgement.nowMs);
  const family = (spec: MetricSpec) => () => w.family(spec);
  /** A family's head alone, for a family whose series come in the steps after it. */
  const heading = (spec: MetricSpec): Step => ({ head: family(spec), count: 0, write: () => undefined });
  const steps: Step[] = [];
  for (let f = 0; f < PLAIN.length; f++) {
    const column = columns[f]!;
    steps.push({
      head: family(PLAIN[f]!),
      count: n,
      write: (j) => {
        const v = column[j]!;
        if (v === v) w.series(labelSets[j]!, v); // else NaN: no series
      },
    });
    if (f !== INFO_AFTER - 1) continue;
    steps.push({
      head: family(m.componentInfo),
      count: n,
      write: (j) => {
        const version = versions[j];
        if (version !== undefined) w.seriesWith(labelSets[j]!, VERSION, version, 1);
      },
    });
  }
  steps.push({
    head: family(m.probeFailureReason),
    count: n,
    write: (j) => {
      const reason = failureReason(lasts[j]);
      if (reason) w.seriesWith(labelSets[j]!, REASON, reason, 1);
    },
  });
  // Per server, cluster after cluster: the family's head, then a step per cluster.
  const perServer = (spec: MetricSpec, write: (cluster: number, server: number) => void): void => {
    steps.push(heading(spec));
    clusters.forEach(({ c }, k) => steps.push({ count: c.servers.length, write: (i) => write(k, i) }));
  };
  perServer(m.serverOnline, (k, i) => {
    const state = clusters[k]!.c.servers[i]!.state;
    if (state !== 'pending') w.series(clusters[k]!.labels.servers[i]!, state === 'online' ? 1 : 0);
  });
  perServer(m.serverOfflineSince, (k, i) => {
    if (clusters[k]!.c.servers[i]!.state !== 'offline') return;
    const since = judgement.since(clusters[k]!.c.config.name, clusters[k]!.c.config.servers[i]!.name);
    if (since !== undefined) w.series(clusters[k]!.labels.servers[i]!, since / 1000);
  });
  perServer(m.serverClockOffset, (k, i) => {
    const offset = clockOffsets[k]![i];
    if (offset !== undefined) w.series(clusters[k]!.labels.servers[i]!, offset / 1000);
  });
  perServer(m.serverInfo, (k, i) => {
    w.open(clusters[k]!.labels.serverInfo[i]!);
    w.out.labelValue(os[k]![i] ?? '');
    w.out.byte(QUOTE);
    w.close(1);
  });
  // Cluster-level series are few: written from strings.
  const perCluster = (spec: MetricSpec, rest: (c: ClusterJudgement) => string, value: (c: ClusterJudgement) => number): void => {
    steps.push({
      head: family(spec),
      count: clusters.length,
      write: (k) => {
        const { c, labels } = clusters[k]!;
        w.open(labels.cluster);
        w.out.utf8(rest(c));
        w.close(value(c));
      },
    });
  };
  perCluster(m.clusterInfo, (c) => `,load_balancing="${configuredLabel(c.config.loadBalancing)}",automatic_failover="${configuredLabel(c.config.automaticFailover)}"`, () => 1);
  perCluster(m.heartbeatInterval, () => '', (c) => c.config.heartbeatIntervalMs / 1000);
  perCluster(m.keyFingerprints, () => '', (c) => c.refs.keys);

  // Families with any number of series per component.
  // Present at 0 from the first probe, so `increase()` sees the first failure.
  steps.push({
    head: family(m.probesFailed),
    count: n,
    write: (j) => {
      const v = failed[j]!;
      if (v === v) w.series(labelSets[j]!, v);
    },
  });
  steps.push({
    head: family(m.probeFailures),
    count: n,
    write: (j) => {
      const counts = failures[j];
      // for-in visits own keys in the order Object.entries() gives (these are plain objects).
      for (const reason in counts) w.seriesWith(labelSets[j]!, REASON, reason, counts[reason as ProbeReason]!);
    },
  });
  steps.push({
    head: family(m.componentValue),
    count: n,
    write: (j) => {
      const values = lasts[j]?.values;
      for (const name in values) w.seriesWith(labelSets[j]!, NAME, name, values[name]!);
    },
  });
  // A fact is what the component says now: a component that does not answer says nothing
  // (its last role must not count as a second primary in PromQL).
  steps.push({
    head: family(m.factInfo),
    count: n,
    write: (j) => {
      if (lasts[j]?.success !== true) return;
      const said = facts[j];
      for (const fact in said) {
        w.open(labelSets[j]!);
        w.label(FACT, fact);
        w.label(VALUE, said[fact]!);
        w.close(1);
      }
    },
  });
  const expectation = (spec: MetricSpec, value: (e: ExpectationStatus) => number | null): void => {
    steps.push({
      head: family(spec),
      count: clusters.length,
      write: (k) => {
        const { c, labels } = clusters[k]!;
        for (const e of c.expectations) {
          const v = value(e);
          if (v === null) continue;
          w.open(labels.cluster);
          w.label(EXPECTATION, e.name);
          w.close(v);
        }
      },
    });
  };
  // Before every server of the cluster has been judged, or while servers not heard could turn it, the count would claim a breach it cannot know of.
  expectation(m.expectationServers, (e) => (e.met === null ? null : e.servers));
  expectation(m.expectationMinServers, (e) => e.min);
  expectation(m.expectationMaxServers, (e) => e.max);
  // Per cluster and expectation, a step over the servers that match it.
  steps.push(heading(m.expectationMemberInfo));
  for (const { c, labels } of clusters) {
    for (const e of c.expectations) {
      steps.push({
        count: e.matching.length,
        write: (i) => {
          w.open(labels.cluster);
          w.label(EXPECTATION, e.name);
          w.label(SERVER, e.matching[i]!);
          w.close(1);
        },
      });
    }
  }
  return run(w, steps);
}

/**
 * A scrape: the judgement's cluster metrics, then the exporter's own registry, as UTF-8
 * text in the exposition format, in parts of about `partBytes` (each its own buffer, the
 * caller's once yielded). Written a part at a time as the reader pulls, so a large scrape is
 * never whole in memory and a slow client holds back the writing, not the other way round;
 * what it writes was taken from the records when it started, so rounds may pass meanwhile.
 * @throws Error when the judgement's round had passed before the first part (`Judgement.clusters`).
 */
export async function* exposition(judgement: Judgement, own: Registry, partBytes = PART_BYTES): AsyncGenerator<Buffer, void, void> {
  const size = Math.min(partBytes, expectedSize(judgement)) + PART_SLACK;
  const out = new TextBuffer(size);
  const parts = writeClusters(judgement, new FamilyWriter(out, partBytes));
  let written = 0;
  while (!parts.next().done) {
    const part = out.handOff(Buffer.allocUnsafe(size));
    written += part.length;
    yield part;
  }
  out.utf8(await own.metrics());
  const last = out.result();
  lastSizes.set(judgement.config, written + last.length);
  yield last;
}

/** The whole text of `exposition`, in one buffer (tests, benchmarks). */
export async function wholeExposition(judgement: Judgement, own: Registry, partBytes = PART_BYTES): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of exposition(judgement, own, partBytes)) parts.push(part);
  return Buffer.concat(parts);
}

/**
 * The size of the judgement's text to expect, in bytes: the last scrape's of its
 * configuration with a little room (2% and 64 KiB), else a guess from the components.
 */
export function expectedSize(judgement: Judgement): number {
  const last = lastSizes.get(judgement.config);
  if (last !== undefined) return last * 1.02 + 65536;
  let components = 0;
  for (const c of judgement.config.clusters) for (const s of c.servers) components += s.components.length;
  return components * FIRST_GUESS;
}
