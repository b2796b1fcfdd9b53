import type { ClusterConfig, Config, ServerConfig } from '../config/types.js';
import {
  componentState,
  factsCurrent,
  judgeExpectations,
  judgeServer,
  references,
  serverKey,
  staleAt,
  keyInSync,
  versionInSync,
  type Records,
  type References,
} from '../evaluate/evaluate.js';
import { events, formatDuration, type ClusterEvent } from '../evaluate/events.js';
import { pushRecent } from '../evaluate/recent.js';
import { observe, type ComponentRecord, type Observation } from '../evaluate/record.js';
import type { ComponentState, ServerState } from '../evaluate/snapshot.js';

// A component's judgement between rounds, packed in one small integer: its state (3 bits), and
// whether its version and key are in sync (0 unknown, 1 in sync, 2 out of sync).
const STATES: readonly ComponentState[] = ['pending', 'up', 'stale', 'down', 'unknown'];
const SYNC: readonly (boolean | null)[] = [null, true, false];
const pack = (state: ComponentState, version: boolean | null, key: boolean | null): number =>
  STATES.indexOf(state) | (SYNC.indexOf(version) << 3) | (SYNC.indexOf(key) << 5);
const stateOf = (p: number): ComponentState => STATES[p & 7]!;
const versionOf = (p: number): boolean | null => SYNC[(p >> 3) & 3]!;
const keyOf = (p: number): boolean | null => SYNC[(p >> 5) & 3]!;

/** What is remembered of a server from one round to the next; carried across reloads. */
interface ServerMemory {
  state: ServerState;
  /** When it entered `state`, ms since the epoch. */
  sinceMs: number;
  /** Its components' names and packed judgements, in the same order. */
  names: readonly string[];
  judged: number[];
}

interface ClusterCheck {
  readonly config: ClusterConfig;
  readonly servers: ServerCheck[];
  refs?: References;
  /** A version or key changed since the references were computed. */
  refsDirty: boolean;
  /** A count may have changed (a fact, a success, a doubt, a component's state): fact expectations must be judged again. */
  expectationsDirty: boolean;
}

/** One server: where probes of its endpoints fold their results. */
export interface ServerCheck {
  readonly cluster: ClusterCheck;
  readonly server: ServerConfig;
  /** The records of `server.components`, in the same order. */
  readonly recs: readonly (ComponentRecord | undefined)[];
  readonly memory: ServerMemory;
  /** A result was folded in since it was last judged. */
  dirty: boolean;
  /** Without new results its judgement can change no earlier than this (a heartbeat going stale). */
  recheckAt: number;
}

/** The state a record was in before the first result folded into it in this round. */
interface Before {
  readonly check: ServerCheck;
  readonly index: number;
  readonly facts: Readonly<Record<string, string>> | undefined;
  readonly success: boolean | undefined;
  /** When `facts` were last known rather than current (ms since the epoch); undefined when current. */
  readonly lastKnownMs: number | undefined;
}

/**
 * The judgement over time: folds probe results into the records a round at a time, then
 * judges what changed since the previous round with the very functions `evaluate()` uses,
 * at the same instant and on the same records, and says so as events. Between rounds the
 * records do not change, so every snapshot taken in a round shows what its events say.
 * Judges only servers with new results, a heartbeat that may have gone stale, or a changed
 * reference version or key: a round costs what changed, not what is configured.
 */
export class Transitions {
  private clusters: ClusterCheck[] = [];
  private readonly checks = new Map<string, ServerCheck>();
  private readonly memory = new Map<string, ServerMemory>();
  /** Whether each expectation was met at the last round, by cluster and expectation name. */
  private readonly met = new Map<string, boolean | null>();
  private readonly before = new Map<ComponentRecord, Before>();

  /**
   * Takes a configuration (at start and after each reload). `records` must already hold a
   * record for every configured component. A server keeps its state and since when across
   * a reload; a new one is pending from `nowMs`.
   */
  configure(config: Config, records: Records, nowMs: number): void {
    this.before.clear();
    this.checks.clear();
    const keep = new Set<string>();
    this.clusters = config.clusters.map((c) => {
      const cluster: ClusterCheck = { config: c, servers: [], refsDirty: true, expectationsDirty: true };
      for (const e of [{ name: 'min_servers_online' }, ...c.factExpectations]) keep.add(expectationKey(c.name, e.name));
      for (const s of c.servers) {
        const key = serverKey(c.name, s.name);
        const names = s.components.map((x) => x.name);
        const old = this.memory.get(key);
        const memory: ServerMemory = old
          ? { ...old, names, judged: names.map((n) => { const i = old.names.indexOf(n); return i < 0 ? 0 : old.judged[i]!; }) }
          : { state: 'pending', sinceMs: nowMs, names, judged: names.map(() => 0) };
        this.memory.set(key, memory);
        const check: ServerCheck = { cluster, server: s, recs: s.components.map((x) => records.get(x.key)), memory, dirty: true, recheckAt: 0 };
        cluster.servers.push(check);
        this.checks.set(key, check);
      }
      return cluster;
    });
    for (const key of this.memory.keys()) if (!this.checks.has(key)) this.memory.delete(key);
    for (const key of this.met.keys()) if (!keep.has(key)) this.met.delete(key);
  }

  /** The server's check, to fold its results into. */
  check(cluster: string, server: string): ServerCheck | undefined {
    return this.checks.get(serverKey(cluster, server));
  }

  /** When the server entered the state it was last judged in, ms since the epoch. */
  since(cluster: string, server: string): number | undefined {
    return this.memory.get(serverKey(cluster, server))?.sinceMs;
  }

  /** The state the server was last judged in. */
  state(cluster: string, server: string): ServerState | undefined {
    return this.memory.get(serverKey(cluster, server))?.state;
  }

  /**
   * Folds one result of the component at `index` of the check's server into its record and
   * its ring of recent results. Changes show at the next `judge()`.
   */
  fold(check: ServerCheck, index: number, obs: Observation): void {
    const r = check.recs[index];
    const c = check.server.components[index];
    if (!r || !c) return;
    if (!this.before.has(r)) this.before.set(r, { check, index, facts: r.facts, success: r.last?.success, lastKnownMs: factsCurrent(r) ? undefined : r.answeredMs });
    const version = r.version;
    const key = r.keyHash;
    const current = factsCurrent(r);
    observe(r, obs);
    const state = componentState(c, r, obs.finishedMs);
    pushRecent(r, state === 'up' || state === 'stale' || state === 'unknown' ? state : 'down', obs.reason, obs.finishedMs);
    // Last-known facts are not counted: a component going quiet changes the references too.
    if (r.version !== version || r.keyHash !== key || factsCurrent(r) !== current) check.cluster.refsDirty = true;
    check.dirty = true;
  }

  /** Judges what changed since the last round, at `nowMs`; the events in the order they are shown (oldest first). */
  judge(nowMs: number): ClusterEvent[] {
    const out: ClusterEvent[] = [];
    const t = nowMs / 1000;
    for (const [r, b] of this.before) {
      const { check, index } = b;
      // Each answer brings a new facts object: compare the values.
      const factsChanged = r.facts !== b.facts && !sameFacts(r.facts, b.facts);
      // A count changes with a fact, a success, or an answer that ends a doubt, which holds
      // only while another endpoint of the server is failing (saysFact in evaluate.ts).
      if (check.cluster.config.factExpectations.length > 0 && (factsChanged || b.success !== r.last?.success || check.recs.some((x) => x?.failingSinceMs !== undefined))) {
        check.cluster.expectationsDirty = true;
      }
      if (!factsChanged || !b.facts || !r.facts) continue;
      for (const [fact, value] of Object.entries(r.facts)) {
        const old = b.facts[fact];
        if (old !== undefined && old !== value) {
          // A value from before an outage is last known: said so, with its age, never as the current one.
          const lastKnownSeconds = b.lastKnownMs === undefined ? null : (nowMs - b.lastKnownMs) / 1000;
          out.push(events.factChanged(t, check.cluster.config.name, check.server.name, check.server.components[index]!.name, fact, old, value, lastKnownSeconds));
        }
      }
    }
    this.before.clear();
    for (const cluster of this.clusters) {
      let refsChanged = false;
      if (cluster.refsDirty || !cluster.refs) {
        const refs = references(cluster.config, cluster.servers.map((s) => s.recs));
        refsChanged = !sameReferences(refs, cluster.refs);
        cluster.refs = refs;
        cluster.refsDirty = false;
      }
      let stateChanged = false;
      for (const check of cluster.servers) {
        if (!check.dirty && !refsChanged && nowMs < check.recheckAt) continue;
        if (this.judgeServer(check, cluster.refs, nowMs, out)) stateChanged = true;
      }
      if (stateChanged || cluster.expectationsDirty) this.judgeExpectations(cluster, nowMs, out);
    }
    return out;
  }

  /** Judges one server and its components; true when the server's state changed. */
  private judgeServer(check: ServerCheck, refs: References, nowMs: number, out: ClusterEvent[]): boolean {
    const { server: s, recs, memory } = check;
    const cluster = check.cluster.config.name;
    const t = nowMs / 1000;
    const judged = judgeServer(s, recs, nowMs);
    let recheckAt = judged.changesAt;
    for (let i = 0; i < s.components.length; i++) {
      const c = s.components[i]!;
      const r = recs[i];
      recheckAt = Math.min(recheckAt, staleAt(c, r));
      const state = componentState(c, r, nowMs);
      const version = versionInSync(refs, c.name, r);
      const key = keyInSync(refs, r);
      const packed = pack(state, version, key);
      const was = memory.judged[i]!;
      if (packed === was) continue;
      memory.judged[i] = packed;
      const wasState = stateOf(was);
      // Coming up from pending is the normal start: not an event.
      // Expectations count up components: a component that changes state may change a count.
      if (state !== wasState) check.cluster.expectationsDirty = true;
      if (state !== wasState && state !== 'pending' && !(wasState === 'pending' && state === 'up')) {
        out.push(events.component(t, cluster, s.name, c.name, wasState, state, state === 'down' || state === 'unknown' ? downReason(r!) : state === 'stale' ? staleReason(r!, c.staleTimeoutMs, nowMs) : null));
      }
      if (version !== versionOf(was)) {
        if (version === false) out.push(events.versionDrift(t, cluster, s.name, c.name, r!.version!, refs.versions[c.name] ?? null));
        else if (version === true && versionOf(was) === false) out.push(events.versionInSync(t, cluster, s.name, c.name, r!.version!));
      }
      if (key !== keyOf(was)) {
        if (key === false) out.push(events.keyDrift(t, cluster, s.name, c.name, refs.keyWithoutMajority));
        else if (key === true && keyOf(was) === false) out.push(events.keyInSync(t, cluster, s.name, c.name));
      }
    }
    check.dirty = false;
    check.recheckAt = recheckAt;
    if (judged.state === memory.state) return false;
    const was = memory.state;
    const offlineMs = nowMs - memory.sinceMs;
    memory.state = judged.state;
    memory.sinceMs = nowMs;
    if (judged.state === 'offline') out.push(events.serverOffline(t, cluster, s.name, was === 'pending' ? 'pending' : 'online', judged.reason, s.role === 'standby'));
    else if (judged.state === 'online' && was === 'offline') out.push(events.serverOnline(t, cluster, s.name, offlineMs / 1000));
    return true;
  }

  private judgeExpectations(cluster: ClusterCheck, nowMs: number, out: ClusterEvent[]): void {
    const t = nowMs / 1000;
    cluster.expectationsDirty = false;
    const { config } = cluster;
    if (config.minServersOnline === undefined && config.factExpectations.length === 0) return;
    const states = cluster.servers.map((s) => s.memory.state);
    for (const e of judgeExpectations(config, cluster.servers.map((s) => s.recs), states, nowMs)) {
      const key = expectationKey(config.name, e.name);
      const was = this.met.get(key) ?? null;
      if (e.met === was) continue;
      this.met.set(key, e.met);
      // Met from the start is normal; unknown again (a pending server after a reload) says nothing.
      if (e.met === false || (e.met === true && was === false)) out.push(events.expectation(t, config.name, e.name, e.met, e.summary));
    }
  }
}

const expectationKey = (cluster: string, name: string): string => `${cluster}\u0000${name}`;

function sameReferences(a: References, b: References | undefined): boolean {
  if (!b || a.key !== b.key) return false;
  const ka = Object.keys(a.versions);
  return ka.length === Object.keys(b.versions).length && ka.every((k) => a.versions[k] === b.versions[k]);
}

function sameFacts(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  if (!a || !b) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function downReason(r: ComponentRecord): string {
  const reason = r.last?.reason ?? 'error';
  return r.last?.detail ? `${reason} (${r.last.detail})` : reason;
}

function staleReason(r: ComponentRecord, staleTimeoutMs: number, nowMs: number): string {
  const heartbeatMs = r.heartbeatMs ?? r.lastSuccessMs;
  if (heartbeatMs === undefined) return 'no heartbeat';
  return `heartbeat ${formatDuration((nowMs - heartbeatMs) / 1000)} old, stale timeout ${formatDuration(staleTimeoutMs / 1000)}`;
}
