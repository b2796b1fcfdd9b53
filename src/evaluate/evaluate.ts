import { answeredReasons, unknownReasons, type ProbeReason } from '../reasons.js';
import type { ClusterConfig, ComponentConfig, Config, FactExpectation, ServerConfig } from '../config/types.js';
import type { ClusterEvent } from './events.js';
import { RecentChecks } from './recent.js';
import { failureCounts, failureTotal, readAnswer, type ComponentRecord, type Observation } from './record.js';
import type { ClusterStatus, ComponentState, ComponentStatus, ExpectationStatus, Reads, ServerState, ServerStatus, Snapshot } from './snapshot.js';

export type Records = ReadonlyMap<string, ComponentRecord>;

/**
 * What a snapshot shows beyond the current observations: kept by the monitor from one
 * snapshot to the next, and read only, so evaluation stays a function of its inputs.
 */
export interface History {
  /** When the server entered the state it was last judged in, ms since the epoch. */
  since(cluster: string, server: string): number | undefined;
  /** The newest events of a cluster (null: the exporter's own), newest first. */
  recentEvents(cluster: string | null): readonly ClusterEvent[];
}

const NO_HISTORY: History = { since: () => undefined, recentEvents: () => [] };

export { serverKey } from '../config/record-key.js';

/**
 * The value more than half of `values` hold (a strict majority), else undefined: with two
 * servers on two versions, or three on three keys, no one is right by count, and none may
 * be blamed at random (DESIGN.md, "What a reading can be").
 */
export function majority(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) count(counts, v);
  return strictMajority(counts);
}

function count(counts: Map<string, number>, v: string): void {
  counts.set(v, (counts.get(v) ?? 0) + 1);
}

/** `majority` over counts. */
function strictMajority(counts: ReadonlyMap<string, number>): string | undefined {
  let total = 0;
  for (const n of counts.values()) total += n;
  for (const [v, n] of counts) if (n * 2 > total) return v;
  return undefined;
}

/**
 * Pure judgement: configuration, observations and history at `nowMs` make a snapshot. The
 * monitor judges its transitions with the same functions on the same inputs, so a snapshot
 * shows exactly the states the event log has recorded up to it.
 */
export function evaluate(config: Config, records: Records, nowMs: number, history: History = NO_HISTORY): Snapshot {
  return new Judgement(config, records, nowMs, history).snapshot();
}

/**
 * One round's judgement: the configuration, the records and the history at the round's
 * instant, judged once per cluster (`clusters`) and made into a snapshot only when a reader
 * wants one (`snapshot`). `/metrics` writes its text straight from the records and the
 * cluster judgements, as a snapshot at 30,000 components is 30,000 objects made only to be
 * written out and dropped; the status page and the API read the snapshot. Both come from
 * the same functions on the same inputs, so they agree.
 *
 * The monitor changes records in place at its next round: a judgement reads them only while
 * `current()` holds, and throws once it does not (its readers then ask for a new one). A
 * snapshot made before stays readable: it holds nothing that changes.
 */
export class Judgement {
  private judged?: readonly ClusterJudgement[];
  private made?: Snapshot;

  constructor(
    readonly config: Config,
    private readonly records: Records,
    /** The instant judged, ms since the epoch. */
    readonly nowMs: number,
    private readonly history: History = NO_HISTORY,
    /** False once the records have changed since the judgement was made. */
    private readonly current: () => boolean = () => true,
  ) {}

  /**
   * Each configured cluster judged, in order; made on first use and kept.
   * @throws Error when the records have moved on to a later round.
   */
  clusters(): readonly ClusterJudgement[] {
    this.check();
    return (this.judged ??= this.config.clusters.map((c) => judgeCluster(c, this.records, this.nowMs)));
  }

  /**
   * The snapshot (JSON-ready, immutable); made on first use and kept.
   * @throws Error when it was not made before the records moved on to a later round.
   */
  snapshot(): Snapshot {
    return (this.made ??= {
      generatedAt: this.nowMs / 1000,
      clusters: this.clusters().map((c) => clusterStatus(c, this.nowMs, this.history)),
      recentEvents: this.history.recentEvents(null),
    });
  }

  /**
   * When the server entered the state it was last judged in, ms since the epoch, as the
   * monitor's history recorded it; undefined without a monitor or before its first judgement.
   */
  since(cluster: string, server: string): number | undefined {
    return this.history.since(cluster, server);
  }

  private check(): void {
    if (!this.current()) throw new Error('the judgement is of a past round: its records have changed since');
  }
}

/** The version each component name is held to, and the key most servers hold. */
export interface References {
  /** By component name: its expected_version, else the version a strict majority reports. */
  readonly versions: Readonly<Record<string, string>>;
  /** Component names whose reported versions disagree with no strict majority and no expected_version. */
  readonly versionsWithoutMajority: readonly string[];
  /** The key fingerprint a strict majority holds. */
  readonly key: string | undefined;
  /** True when key fingerprints disagree and none has a strict majority. */
  readonly keyWithoutMajority: boolean;
  /** Distinct key fingerprints reported in the cluster. */
  readonly keys: number;
}

/**
 * True while the record's facts are the latest answer's: its last probe read an answer.
 * When it read none, they are last known (shown with their age, never counted or compared).
 */
export function factsCurrent(r: ComponentRecord | undefined): boolean {
  return r?.last !== undefined && readAnswer(r.last);
}

/**
 * A component's version is held to its expected_version, else to the version a strict
 * majority of the components of that name report; keys to the key a strict majority holds.
 * Only current facts count (`factsCurrent`).
 */
export function references(cluster: ClusterConfig, recs: readonly (readonly (ComponentRecord | undefined)[])[]): References {
  // Counted as they come, so no list of 30,000 versions is made to be counted afterwards.
  const versions = new Map<string, Map<string, number>>();
  const keys = new Map<string, number>();
  for (let i = 0; i < cluster.servers.length; i++) {
    const components = cluster.servers[i]!.components;
    const serverRecs = recs[i]!;
    for (let j = 0; j < components.length; j++) {
      const r = serverRecs[j];
      if (!factsCurrent(r)) continue;
      if (r!.version !== undefined) {
        const name = components[j]!.name;
        let counts = versions.get(name);
        if (!counts) versions.set(name, (counts = new Map()));
        count(counts, r!.version);
      }
      if (r!.keyHash !== undefined) count(keys, r!.keyHash);
    }
  }
  const referenceVersions: Record<string, string> = {};
  const withoutMajority: string[] = [];
  for (const [name, counts] of versions) {
    const reference = derivedOf(cluster).expectedVersions.get(name) ?? strictMajority(counts);
    if (reference === undefined) withoutMajority.push(name);
    else referenceVersions[name] = reference;
  }
  const key = strictMajority(keys);
  return { versions: referenceVersions, versionsWithoutMajority: withoutMajority, key, keyWithoutMajority: key === undefined && keys.size > 0, keys: keys.size };
}

/**
 * True when `value` equals its reference, false when it differs or when there is no
 * reference because no value has a strict majority (`noMajority`); null when the value is
 * unknown, or there is no reference for another cause.
 */
function inSync(value: string | undefined, reference: string | undefined, noMajority = false): boolean | null {
  if (value === undefined) return null;
  if (reference === undefined) return noMajority ? false : null;
  return value === reference;
}

/** Whether the record's current version (`factsCurrent`) is in sync with the cluster's reference for `name`. */
export function versionInSync(refs: References, name: string, r: ComponentRecord | undefined): boolean | null {
  return factsCurrent(r) ? inSync(r!.version, refs.versions[name], refs.versionsWithoutMajority.includes(name)) : null;
}

/** Whether the record's current key fingerprint is in sync with the cluster's reference key. */
export function keyInSync(refs: References, r: ComponentRecord | undefined): boolean | null {
  return factsCurrent(r) ? inSync(r!.keyHash, refs.key, refs.keyWithoutMajority) : null;
}

/** What components are configured to read at all: "not configured" is not "unknown". Frozen: every snapshot shares it. */
function readsOf(components: readonly ComponentConfig[]): Reads {
  return Object.freeze({
    version: components.some((c) => c.read.version !== undefined),
    key: components.some((c) => c.read.key !== undefined || c.read.keyFingerprint !== undefined),
    os: components.some((c) => c.read.os !== undefined),
  });
}

/** What evaluate() derives from a configured cluster alone, made once per configuration. */
interface Derived {
  readonly reads: Reads;
  /** Per server, in order. */
  readonly serverReads: readonly Reads[];
  /** Every server's copy of a component shares the cluster's declaration, so its expected version. */
  readonly expectedVersions: ReadonlyMap<string, string>;
}

const derived = new WeakMap<ClusterConfig, Derived>();

function derivedOf(cluster: ClusterConfig): Derived {
  let d = derived.get(cluster);
  if (!d) {
    const expectedVersions = new Map<string, string>();
    for (const s of cluster.servers) for (const c of s.components) if (c.expectedVersion !== undefined) expectedVersions.set(c.name, c.expectedVersion);
    d = {
      reads: readsOf(cluster.servers.flatMap((s) => s.components)),
      serverReads: cluster.servers.map((s) => readsOf(s.components)),
      expectedVersions,
    };
    derived.set(cluster, d);
  }
  return d;
}

/**
 * A configured cluster judged at one instant: what a snapshot's cluster status and the
 * `/metrics` text are both written from. Per-component facts are read from `records` by
 * whoever writes them out, with the same functions (`heartbeatMsOf`, `heartbeatAgeMs`,
 * `failureReason`, `versionInSync`, `keyInSync`, `osOf`, `clockOffsetMsOf`), while the judgement is current.
 */
export interface ClusterJudgement {
  readonly config: ClusterConfig;
  /** Per server, its components' records (undefined: none yet), both in configured order. */
  readonly records: readonly (readonly (ComponentRecord | undefined)[])[];
  readonly refs: References;
  /** Per server, in configured order (see `judgeServer`). */
  readonly servers: readonly ServerJudgement[];
  readonly serversOnline: number;
  /** Servers not judged yet (a component not probed once). */
  readonly serversPending: number;
  readonly expectations: readonly ExpectationStatus[];
}

/** A server's online state and why it is offline (`judgeServer`). */
export interface ServerJudgement {
  readonly state: ServerState;
  /** Why the server is offline, e.g. `service: connection_refused`; null otherwise. */
  readonly reason: string | null;
  /** The first instant (ms since the epoch) at which the judgement changes without a new probe; Infinity if none. */
  readonly changesAt: number;
}

/** Judges `cluster` on `records` at `nowMs`: its references, each server, its expectations. */
export function judgeCluster(cluster: ClusterConfig, records: Records, nowMs: number): ClusterJudgement {
  // Each component's record, looked up once: by server, in the order of its components.
  const recs = cluster.servers.map((s) => s.components.map((c) => records.get(c.key)));
  const servers = cluster.servers.map((s, i) => judgeServer(s, recs[i]!, nowMs));
  let online = 0;
  let pending = 0;
  for (const s of servers) {
    if (s.state === 'online') online++;
    else if (s.state === 'pending') pending++;
  }
  return {
    config: cluster,
    records: recs,
    refs: references(cluster, recs),
    servers,
    serversOnline: online,
    serversPending: pending,
    expectations: judgeExpectations(cluster, recs, servers.map((s) => s.state), nowMs),
  };
}

/** The operating system the first of `recs` to report one reported; null when none did. */
export function osOf(recs: readonly (ComponentRecord | undefined)[]): string | null {
  for (const r of recs) if (r?.os !== undefined) return r.os;
  return null;
}

/** The component value by which a product says its automatic failover is paused (1) or not (0); docs/configuration.md. */
const AUTOMATIC_FAILOVER_PAUSED = 'automatic_failover_paused';

function clusterStatus(judged: ClusterJudgement, nowMs: number, history: History): ClusterStatus {
  const { config: cluster, refs } = judged;
  const { reads, serverReads } = derivedOf(cluster);
  const servers = cluster.servers.map((s, i) => serverStatus(cluster, s, serverReads[i]!, judged.records[i]!, judged.servers[i]!, nowMs, refs, history));
  return {
    name: cluster.name,
    heartbeatIntervalSeconds: cluster.heartbeatIntervalMs / 1000,
    probeTimeoutSeconds: cluster.probeTimeoutMs / 1000,
    staleTimeoutSeconds: cluster.staleTimeoutMs / 1000,
    loadBalancing: cluster.loadBalancing ?? null,
    automaticFailover: cluster.automaticFailover ?? null,
    automaticFailoverPausedBy: servers.filter((s) => s.components.some((c) => c.up === true && c.values[AUTOMATIC_FAILOVER_PAUSED] === 1)).map((s) => s.name),
    expectedVersion: cluster.expectedVersion ?? null,
    referenceVersions: refs.versions,
    versionsWithoutMajority: refs.versionsWithoutMajority,
    keyWithoutMajority: refs.keyWithoutMajority,
    keyFingerprints: refs.keys,
    reads,
    serversTotal: cluster.servers.length,
    serversOnline: judged.serversOnline,
    serversPending: judged.serversPending,
    expectations: judged.expectations,
    recentEvents: history.recentEvents(cluster.name),
    servers,
  };
}

/**
 * The cluster's expectations: at least `min_servers_online` active servers online (standby
 * servers of a disaster-recovery site do not count), and between min and max servers that
 * say a fact has one of the expected values (exactly one primary), each by its own word,
 * whatever the server's own state (`saysFact`). `met` is null while some server has not
 * been judged yet, and while servers the exporter cannot hear could turn the verdict
 * either way: an expectation is never breached, nor met, on a word not heard.
 */
export function judgeExpectations(
  cluster: ClusterConfig,
  recs: readonly (readonly (ComponentRecord | undefined)[])[],
  /** Each server's judged state, in the order of `cluster.servers`. */
  states: readonly ServerState[],
  /** When to judge staleness, ms since the epoch. */
  nowMs: number,
): ExpectationStatus[] {
  // Plain loops: at 30,000 components filter/some/map with closures took twice as long.
  const pending = states.includes('pending');
  const out: ExpectationStatus[] = [];
  if (cluster.minServersOnline !== undefined) {
    let active = 0;
    const online: string[] = [];
    for (let i = 0; i < cluster.servers.length; i++) {
      const s = cluster.servers[i]!;
      if (s.role !== 'active') continue;
      active++;
      if (states[i] === 'online') online.push(s.name);
    }
    const min = cluster.minServersOnline;
    out.push({
      name: 'min_servers_online',
      servers: online.length,
      min,
      max: null,
      met: pending ? null : online.length >= min,
      matching: online,
      summary: `${online.length} of ${active} active servers online, minimum ${min}`,
    });
  }
  for (const e of cluster.factExpectations) {
    const matching: string[] = [];
    const unheard: string[] = [];
    for (let i = 0; i < cluster.servers.length; i++) {
      const word = saysFact(cluster.servers[i]!.components, recs[i]!, e, nowMs);
      if (word === 'yes') matching.push(cluster.servers[i]!.name);
      else if (word === 'unheard') unheard.push(cluster.servers[i]!.name);
    }
    const n = matching.length;
    const u = unheard.length;
    // Met whatever the unheard servers say, breached whatever they say, or not known.
    const lo = e.min ?? 0;
    const hi = e.max ?? Infinity;
    const met = n >= lo && n + u <= hi ? true : n + u < lo || n > hi ? false : null;
    const range = e.min === e.max ? `exactly ${e.min}` : [e.min !== undefined ? `at least ${e.min}` : '', e.max !== undefined ? `at most ${e.max}` : ''].filter(Boolean).join(' and ');
    out.push({
      name: e.name,
      servers: n,
      min: e.min ?? null,
      max: e.max ?? null,
      met: pending ? null : met,
      matching,
      summary:
        `${n} ${n === 1 ? 'server' : 'servers'} with ${e.fact} ${e.values.join(' or ')}${n > 0 ? ` (${matching.join(', ')})` : ''}` +
        `${u > 0 ? `, ${u} not heard (${unheard.join(', ')})` : ''}, expected ${range}`,
    });
  }
  return out;
}

/**
 * What one server says of a fact expectation, by its own word, whatever the server's state:
 * a primary whose PostgreSQL still takes writes counts though another component has taken
 * its server Offline (a split brain must not hide behind it). Only a component that reads
 * the fact and is up speaks; one whose probe failed or whose heartbeat is stale says
 * nothing. An answer from before another endpoint of the server began failing is in doubt
 * (the server may have died since: a frozen leader's last "I lead"), as is a component
 * whose credentials are refused: "unheard". The prober asks a server's other endpoints at
 * once when one starts failing, so a doubt lasts one probe.
 *
 * "yes" when a component says one of the values, "unheard" when none does and one could
 * not be heard, else "no".
 */
function saysFact(components: readonly ComponentConfig[], recs: readonly (ComponentRecord | undefined)[], e: FactExpectation, nowMs: number): 'yes' | 'no' | 'unheard' {
  let doubtSinceMs = -Infinity;
  for (const r of recs) if (r?.failingSinceMs !== undefined && r.failingSinceMs > doubtSinceMs) doubtSinceMs = r.failingSinceMs;
  let unheard = false;
  for (let j = 0; j < components.length; j++) {
    const c = components[j]!;
    if (!Object.hasOwn(c.read.facts, e.fact)) continue;
    const r = recs[j];
    const state = componentState(c, r, nowMs);
    if (state === 'unknown' || (state === 'up' && r!.last!.finishedMs <= doubtSinceMs)) {
      unheard = true;
      continue;
    }
    if (state !== 'up') continue;
    const value = r!.facts?.[e.fact];
    if (value !== undefined && e.values.includes(value.trim().toLowerCase())) return 'yes';
  }
  return unheard ? 'unheard' : 'no';
}

function serverStatus(
  cluster: ClusterConfig,
  s: ServerConfig,
  reads: Reads,
  recs: readonly (ComponentRecord | undefined)[],
  judged: ServerJudgement,
  nowMs: number,
  refs: References,
  history: History,
): ServerStatus {
  const since = history.since(cluster.name, s.name);
  const clockOffset = clockOffsetMsOf(recs);
  return {
    name: s.name,
    address: s.address,
    site: s.site,
    role: s.role,
    labels: s.labels,
    os: osOf(recs),
    reads,
    state: judged.state,
    reason: judged.reason,
    since: since === undefined ? null : since / 1000,
    clockOffsetSeconds: clockOffset === undefined ? null : clockOffset / 1000,
    components: s.components.map((c, i) => componentStatus(c, recs[i], nowMs, refs)),
  };
}

/**
 * A component's state at `nowMs`: pending until probed; unknown when the last probe was
 * refused for the exporter's credentials (`unknownReasons`: the server is up, the
 * component unjudged); down when it failed otherwise; stale when its heartbeat has not
 * moved for longer than its stale timeout (`heartbeatAgeMs`); else up.
 */
export function componentState(c: ComponentConfig, r: ComponentRecord | undefined, nowMs: number): ComponentState {
  const last = r?.last;
  if (!last) return 'pending';
  if (!last.success) return unknownReasons.has(last.reason ?? 'error') ? 'unknown' : 'down';
  const ageMs = heartbeatAgeMs(r, nowMs);
  return ageMs === undefined || ageMs > c.staleTimeoutMs ? 'stale' : 'up';
}

/**
 * A component's heartbeat as reported, ms since the epoch (on the node's clock): the
 * reported one when the latest answer held a valid one, else the last successful probe;
 * undefined when neither is known. A fact to show; staleness is judged by `heartbeatAgeMs`.
 */
export function heartbeatMsOf(r: ComponentRecord | undefined): number | undefined {
  return r?.heartbeatMs ?? r?.lastSuccessMs;
}

/**
 * When the heartbeat last moved, on the exporter's clock (ms since the epoch): the instant
 * a reported heartbeat was seen to move (`observe()`), else the last successful probe.
 */
function heartbeatMovedMs(r: ComponentRecord | undefined): number | undefined {
  return r?.heartbeatMs !== undefined ? r.heartbeatMovedMs : r?.lastSuccessMs;
}

/**
 * How long the heartbeat has not moved at `nowMs`, on the exporter's clock, in ms, never
 * negative; undefined when there is none. A node clock ahead cannot make it young.
 */
export function heartbeatAgeMs(r: ComponentRecord | undefined, nowMs: number): number | undefined {
  const movedMs = heartbeatMovedMs(r);
  return movedMs === undefined ? undefined : Math.max(0, nowMs - movedMs);
}

/** Why the last probe failed (`error` when it gave no reason); null when it succeeded or none ran. */
export function failureReason(last: Observation | undefined): ProbeReason | null {
  return last?.success === false ? (last.reason ?? 'error') : null;
}

/** The first instant (whole ms) at which an up component turns stale without a new probe; Infinity if none. */
export function staleAt(c: ComponentConfig, r: ComponentRecord | undefined): number {
  if (!r?.last?.success) return Infinity;
  const movedMs = heartbeatMovedMs(r);
  return movedMs === undefined ? Infinity : Math.floor(movedMs + c.staleTimeoutMs) + 1;
}

/**
 * A server's clock offset (node minus exporter) in ms as its components' moving heartbeats
 * show it (`ComponentRecord.clockOffsetMs`, each a bound the offset certainly reaches): the
 * largest in size; undefined when no heartbeat has moved.
 */
export function clockOffsetMsOf(recs: readonly (ComponentRecord | undefined)[]): number | undefined {
  let offset: number | undefined;
  for (const r of recs) {
    const o = r?.clockOffsetMs;
    if (o !== undefined && (offset === undefined || Math.abs(o) > Math.abs(offset))) offset = o;
  }
  return offset;
}

/** Shared by every component without failures, values, facts or problems. */
const NONE: Readonly<Record<string, never>> = Object.freeze({});
const NO_PROBLEMS: readonly string[] = Object.freeze([]);

function componentStatus(c: ComponentConfig, r: ComponentRecord | undefined, nowMs: number, refs: References): ComponentStatus {
  const last = r?.last;
  const heartbeatMs = heartbeatMsOf(r);
  const ageMs = heartbeatAgeMs(r, nowMs);
  const stale = ageMs === undefined || ageMs > c.staleTimeoutMs;
  const state = componentState(c, r, nowMs);
  const current = factsCurrent(r);
  const lastKnown = !current && r?.answeredMs !== undefined;
  return {
    name: c.name,
    required: c.required,
    state,
    // Unknown is neither up nor down.
    up: last && state !== 'unknown' ? last.success : null,
    reason: failureReason(last),
    detail: last?.success === false ? (last.detail ?? null) : null,
    status: last?.status ?? null,
    version: r?.version ?? null,
    versionLastKnown: lastKnown && r?.version !== undefined,
    versionInSync: versionInSync(refs, c.name, r),
    keyInSync: keyInSync(refs, r),
    factsLastKnownAt: lastKnown ? r!.answeredMs! / 1000 : null,
    lastHeartbeat: heartbeatMs === undefined ? null : heartbeatMs / 1000,
    heartbeatProblem: r?.heartbeatProblem ?? null,
    heartbeatAgeSeconds: ageMs === undefined ? null : ageMs / 1000,
    staleTimeoutSeconds: c.staleTimeoutMs / 1000,
    stale: last !== undefined && stale,
    clockOffsetSeconds: r?.clockOffsetMs === undefined ? null : r.clockOffsetMs / 1000,
    lastProbe: last ? last.finishedMs / 1000 : null,
    probeDurationSeconds: last ? last.durationMs / 1000 : null,
    tlsCertExpiry: last?.certNotAfterMs === undefined ? null : last.certNotAfterMs / 1000,
    // The record's counts change in place: copied, unless there are none (most components).
    failures: failureCounts(r) ?? NONE,
    failuresTotal: r ? failureTotal(r) : 0,
    // An answer's values and facts are never changed once read: shared, not copied.
    values: last?.values ?? NONE,
    facts: r?.facts ?? NONE,
    problems: last?.problems ?? NO_PROBLEMS,
    recent: RecentChecks.of(r),
  };
}

/**
 * A server's online state and its reason. Online: every component probed at least once,
 * some component answered, and every required component up with a fresh heartbeat.
 * "Answered" includes an unhealthy answer (`answeredReasons`): `unreachable (...)` is the
 * reason only when no component got any answer at all. Used
 * by evaluate() and, each round over the servers with new results, by the monitor's
 * transitions: it allocates nothing per component.
 */
export function judgeServer(
  s: ServerConfig,
  /** The records of `s.components`, in the same order. */
  recs: readonly (ComponentRecord | undefined)[],
  nowMs: number,
): ServerJudgement {
  let answered = false;
  // Without new probes the judgement holds until a required heartbeat goes stale.
  let changesAt = Infinity;
  let failing: string | null = null;
  let first: string | null = null;
  for (let i = 0; i < s.components.length; i++) {
    const c = s.components[i]!;
    const r = recs[i];
    const last = r?.last;
    if (!last) return { state: 'pending', reason: null, changesAt };
    const reason = failureReason(last);
    if (first === null) first = `${c.name}: ${reason ?? 'down'}`;
    if (last.success || answeredReasons.has(last.reason ?? 'error')) answered = true;
    // Credentials refused: the component is unjudged, which never takes its server offline.
    if (!c.required || failing !== null || unknownReasons.has(reason ?? 'error')) continue;
    if (!last.success) {
      failing = `${c.name}: ${reason}`;
      continue;
    }
    if (componentState(c, r, nowMs) === 'stale') failing = `${c.name}: stale`;
    else changesAt = Math.min(changesAt, staleAt(c, r));
  }
  if (s.components.length === 0) return { state: 'offline', reason: 'no components', changesAt };
  if (!answered) return { state: 'offline', reason: `unreachable (${first})`, changesAt };
  return failing === null ? { state: 'online', reason: null, changesAt } : { state: 'offline', reason: failing, changesAt };
}
