import type { ReloadResult } from '../config/store.js';
import type { ComponentConfig, Config, ServerConfig } from '../config/types.js';
import { Judgement, serverKey, type History } from '../evaluate/evaluate.js';
import { events as event, type ClusterEvent, type EventKind } from '../evaluate/events.js';
import { newRecord, observation, type ComponentRecord, type Observation } from '../evaluate/record.js';
import type { Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import type { OwnMetrics } from '../metrics/own.js';
import { buildProbes, type EndpointProbes } from '../probes/build.js';
import { read } from '../probes/extract.js';
import type { EndpointProbe, ExporterFault } from '../probes/types.js';
import { runGuarded } from './deadline.js';
import { EventLog } from './event-log.js';
import { Slots } from './slots.js';
import { Transitions, type ServerCheck } from './transitions.js';

export interface MonitorOptions {
  /** Most probes running at once, across all clusters. */
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics: OwnMetrics;
  /** How often a round folds the probe results in and judges them (default 1 s). */
  readonly roundMs?: number;
  /** Picks where in its interval each endpoint's steady schedule falls (default Math.random). */
  readonly random?: () => number;
}

/** One endpoint of one server: what is scheduled and probed. */
interface Target {
  readonly key: string;
  probe: EndpointProbe;
  /** The components that read the endpoint's answer: where to fold their results. */
  readers: readonly { readonly component: ComponentConfig; readonly check: ServerCheck; readonly index: number }[];
  intervalMs: number;
  timeoutMs: number;
  /** The instant its next probe is scheduled for (a slot's start, ms since the epoch). */
  dueMs: number;
  /** Queued or running: a component is never probed twice at once. */
  busy: boolean;
  /** On its steady schedule; false until its first probe (queued at once) has finished. */
  steady: boolean;
}

/**
 * Probes are scheduled in slots of this many milliseconds: what falls due within one starts
 * together, on one wake-up of the process (src/monitor/slots.ts). Schedule lag is counted
 * from the slot's start.
 */
export const SLOT_MS = 100;

/** Events of the exporter's own and of clusters shown in snapshots: the page's lists. */
const SHOWN_PER_CLUSTER = 10;
const SHOWN_OWN = 5;

/** Log message and extra fields of each kind of event; the exporter's own are logged where they happen. */
const LOGGED: Partial<Record<EventKind, string>> = {
  server_offline: 'server offline',
  server_online: 'server back online',
  component_down: 'component down',
  component_stale: 'component stale',
  component_unknown: 'component unknown: cannot authenticate',
  component_up: 'component up',
  version_drift: 'version out of sync',
  version_in_sync: 'version back in sync',
  key_drift: 'key out of sync',
  key_in_sync: 'key back in sync',
  fact_changed: 'fact changed',
  expectation_not_met: 'expectation not met',
  expectation_met: 'expectation met',
};

/**
 * Probes every server's endpoints in the background: each new endpoint at once (at start
 * and when a reload adds it), then once per interval (the shortest heartbeat interval of
 * the components that read it) at a random point of it, so probes spread over the
 * interval; all under one bound on concurrent probes. Every component reading an endpoint
 * reads the same answer.
 *
 * Results are folded in by rounds (every second, and at once when the first probe of every
 * component is in): a round judges what changed (Transitions), logs it and keeps it in the
 * event log, and starts a new snapshot. Between rounds nothing a snapshot reads changes, so
 * `/metrics`, the API, the page and the log judge alike: every logged change is in the
 * snapshot of the same round, and no change is logged that no snapshot shows.
 */
export class Monitor {
  private config: Config;
  private endpoints?: EndpointProbes;
  private readonly closing = new Set<Promise<void>>();
  private readonly targets = new Map<string, Target>();
  /** Every target's next probe, in slots of SLOT_MS under one timer. */
  private readonly slots = new Slots<Target>(SLOT_MS, (t) => this.due(t));
  private readonly records = new Map<string, ComponentRecord>();
  private readonly queue: Target[] = [];
  private running = 0;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private roundTimer?: NodeJS.Timeout;
  private readonly transitions = new Transitions();
  private readonly eventLog = new EventLog();
  /** Results of finished probes, folded in at the next round. */
  private pending: { readonly check: ServerCheck; readonly index: number; readonly obs: Observation }[] = [];
  /** Components without any result yet: when the last one has one, a round runs at once. */
  private readonly unprobed = new Set<string>();
  /** The instant of the latest round (ms since the epoch) and how many rounds have run. */
  private roundAtMs = 0;
  private rounds = 0;
  /** The latest round's judgement, once asked for: every reader of the round shares it. */
  private shared?: Judgement;
  /** Servers by serverKey, for the site and role in log lines. */
  private servers = new Map<string, ServerConfig>();
  /**
   * Settles at the first round after which every configured component has a result (at
   * the first round when none is configured): the end of start-up.
   */
  readonly firstRound: Promise<void>;
  private endFirstRound!: () => void;
  private readonly history: History = {
    since: (cluster, server) => this.transitions.since(cluster, server),
    recentEvents: (cluster) => this.eventLog.latest(cluster, cluster === null ? SHOWN_OWN : SHOWN_PER_CLUSTER),
  };

  constructor(
    config: Config,
    private readonly opts: MonitorOptions,
  ) {
    this.config = config;
    this.firstRound = new Promise((resolve) => (this.endFirstRound = resolve));
  }

  get currentConfig(): Config {
    return this.config;
  }

  start(): void {
    const now = Date.now();
    const components = this.config.clusters.reduce((n, c) => n + c.servers.reduce((m, s) => m + s.components.length, 0), 0);
    this.eventLog.add(event.started(now / 1000, this.config.clusters.length, components));
    this.apply(this.config);
    this.roundTimer = setInterval(() => this.round(), this.opts.roundMs ?? 1000);
    this.roundTimer.unref();
  }

  /**
   * Swaps in a new configuration and its probes; the old probes' pools close once their
   * last probe is done. Endpoints still configured keep their phase, components their
   * records, servers their state; new endpoints are probed at once.
   */
  apply(config: Config): void {
    // Results of the old configuration are judged under it first.
    if (this.pending.length > 0) this.round();
    const endpoints = buildProbes(config);
    for (const warning of endpoints.warnings) this.opts.logger.warn({ file: config.file }, warning);
    const components = new Set<string>();
    for (const cluster of config.clusters) for (const server of cluster.servers) for (const c of server.components) components.add(c.key);
    for (const key of this.records.keys()) {
      if (!components.has(key)) {
        this.records.delete(key);
        this.unprobed.delete(key);
      }
    }
    for (const key of components) {
      if (!this.records.has(key)) {
        this.records.set(key, newRecord());
        this.unprobed.add(key);
      }
    }
    const now = Date.now();
    this.transitions.configure(config, this.records, now);
    const wanted = new Map<string, Pick<Target, 'probe' | 'readers' | 'intervalMs' | 'timeoutMs'>>();
    const servers = new Map<string, ServerConfig>();
    for (const cluster of config.clusters) {
      for (const server of cluster.servers) {
        servers.set(serverKey(cluster.name, server.name), server);
        const check = this.transitions.check(cluster.name, server.name)!;
        for (const e of server.endpoints) {
          const readers = server.components.flatMap((component, index) => (component.endpoint === e.key ? [{ component, check, index }] : []));
          wanted.set(e.key, { probe: endpoints.probes.get(e.key)!, readers, intervalMs: e.intervalMs, timeoutMs: e.timeoutMs });
        }
      }
    }
    this.servers = servers;
    for (const [key, t] of this.targets) {
      if (!wanted.has(key)) {
        this.slots.remove(t);
        this.targets.delete(key);
      }
    }
    const random = this.opts.random ?? Math.random;
    for (const [key, w] of wanted) {
      const existing = this.targets.get(key);
      if (existing) {
        const reschedule = existing.steady && existing.intervalMs !== w.intervalMs;
        Object.assign(existing, w);
        if (reschedule) this.schedule(existing, now + random() * w.intervalMs);
        continue;
      }
      // The first round: queued at once, bounded by the concurrency like any probe.
      // Every field written out (not spread from `w`), so that V8 keeps them in the object.
      const target: Target = { key, probe: w.probe, readers: w.readers, intervalMs: w.intervalMs, timeoutMs: w.timeoutMs, dueMs: now, busy: true, steady: false };
      this.targets.set(key, target);
      this.queue.push(target);
    }
    const previous = this.endpoints;
    this.endpoints = endpoints;
    if (previous) {
      // Probes already running on the old pools finish first (they are bounded by their deadline).
      const done: Promise<void> = Promise.all(this.inFlight)
        .then(() => previous.close())
        .finally(() => this.closing.delete(done));
      this.closing.add(done);
    }
    this.config = config;
    this.eventLog.retain(new Set(config.clusters.map((c) => c.name)));
    // The new configuration shows at once: removed servers are gone, new ones pending.
    this.round(now);
    this.drain();
  }

  /**
   * The judgement of the latest round: the records at the instant the round judged. Requests
   * share it until the next round (a reload counts as one), after which it throws when read.
   */
  judgement(): Judgement {
    if (this.shared) return this.shared;
    const round = this.rounds;
    this.shared = new Judgement(this.config, this.records, this.roundAtMs || Date.now(), this.history, () => this.rounds === round);
    return this.shared;
  }

  /** The snapshot of the latest round (`judgement().snapshot()`). */
  snapshot(): Snapshot {
    return this.judgement().snapshot();
  }

  /** True once every configured component has a result, as of the latest round. */
  ready(): boolean {
    for (const r of this.records.values()) if (!r.last) return false;
    return true;
  }

  /**
   * Events after `sinceSeconds` (exclusive), newest first, at most `limit`: of one cluster,
   * or of all and the exporter's own.
   */
  events(opts: { sinceSeconds?: number; cluster?: string; limit: number }): ClusterEvent[] {
    return this.eventLog.query(opts);
  }

  /** Records a reload's outcome as an event, shown from the next snapshot on. */
  noteReload(result: ReloadResult, nowMs = Date.now()): void {
    this.eventLog.add(result.ok ? event.reloaded(nowMs / 1000, result.changed, this.config.clusters.length) : event.reloadFailed(nowMs / 1000, result.error));
    this.nextRound();
  }

  /** Stops probing, waits for running probes, folds their results in and closes every connection pool. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.roundTimer);
    this.slots.clear();
    this.queue.length = 0;
    await Promise.all(this.inFlight);
    this.round();
    await Promise.all(this.closing);
    await this.endpoints?.close();
  }

  /**
   * One round at `nowMs`: folds in the results that came since the last one, judges what
   * changed, logs it and keeps it as events, and starts a new snapshot.
   */
  round(nowMs = Date.now()): void {
    const batch = this.pending;
    this.pending = [];
    for (const { check, index, obs } of batch) {
      const problems = obs.problems;
      const had = check.recs[index]?.last?.problems;
      this.transitions.fold(check, index, obs);
      if (problems && problems.join() !== had?.join()) {
        const fields = { app_cluster: check.cluster.config.name, server: check.server.name, component: check.server.components[index]!.name };
        this.opts.logger.debug({ ...fields, problems: problems.join('; ') }, 'answer lacks configured values or facts');
      }
    }
    for (const e of this.transitions.judge(nowMs)) {
      this.eventLog.add(e);
      this.log(e);
    }
    this.roundAtMs = nowMs;
    this.nextRound();
    if (this.unprobed.size === 0) this.endFirstRound();
  }

  /** Starts a new round: its judgement (and snapshot) is made anew when first asked for, and the last one's memory goes. */
  private nextRound(): void {
    this.rounds++;
    this.shared = undefined;
  }

  /** One log line per event, in the fields the logs have always had. */
  private log(e: ClusterEvent): void {
    const msg = LOGGED[e.kind];
    if (!msg) return;
    const fields: Record<string, string> = { app_cluster: e.cluster ?? '' };
    if (e.server !== null) {
      fields['server'] = e.server;
      const s = this.servers.get(serverKey(e.cluster ?? '', e.server));
      if (s && e.component === null) Object.assign(fields, { site: s.site, role: s.role });
    }
    if (e.component !== null) fields['component'] = e.component;
    if (e.kind === 'fact_changed') Object.assign(fields, { fact: e.subject, from: e.from, to: e.to });
    else if (e.kind === 'expectation_met' || e.kind === 'expectation_not_met') fields['expectation'] = e.subject ?? '';
    else if (e.kind === 'version_drift') Object.assign(fields, { version: e.to, reference: e.from });
    if (e.reason !== null) fields['reason'] = e.reason;
    const level = e.severity === 'warning' ? 'warn' : 'info';
    this.opts.logger[level](fields, msg);
  }

  private schedule(t: Target, dueMs: number): void {
    t.dueMs = this.slots.add(t, dueMs);
  }

  private due(t: Target): void {
    if (this.stopped || this.targets.get(t.key) !== t) return;
    if (t.busy) {
      this.opts.metrics.probesSkipped.inc();
    } else {
      t.busy = true;
      this.queue.push(t);
      this.drain();
    }
    // Fixed rate against the schedule, not against when the probe finished.
    let next = t.dueMs + t.intervalMs;
    const now = Date.now();
    while (next <= now) next += t.intervalMs;
    this.schedule(t, next);
  }

  private drain(): void {
    while (this.running < this.opts.concurrency && this.queue.length > 0) {
      const t = this.queue.shift()!;
      this.running++;
      this.opts.metrics.probesInFlight.set(this.running);
      const p = this.run(t).finally(() => {
        this.running--;
        this.opts.metrics.probesInFlight.set(this.running);
        t.busy = false;
        this.inFlight.delete(p);
        if (!t.steady && !this.stopped && this.targets.get(t.key) === t) {
          // After the first probe, a random point of the interval: probes spread over it.
          t.steady = true;
          this.schedule(t, Date.now() + (this.opts.random ?? Math.random)() * t.intervalMs);
        }
        this.drain();
      });
      this.inFlight.add(p);
    }
  }

  /** Counts and logs a probe whose failure was the exporter's own (see ExporterFault). */
  private abandon(fault: ExporterFault): void {
    this.opts.metrics.probesAbandoned.inc({ cause: fault });
    this.opts.logger.warn(
      { cause: fault },
      fault === 'open_files' ? 'a probe failed for want of open files: not counted against the server' : 'the exporter stalled past a probe deadline: not counted against the server',
    );
  }

  private async run(t: Target): Promise<void> {
    let started = performance.now();
    const startedMs = Date.now();
    this.opts.metrics.scheduleLag.observe(Math.max(0, startedMs - t.dueMs) / 1000);
    let answer = await runGuarded(t.probe, t.timeoutMs);
    if (answer.exporterFault) {
      // Not the server's doing (the exporter's files ran out, or its loop stalled past the
      // deadline): counted as the exporter's, and asked again at once.
      this.abandon(answer.exporterFault);
      started = performance.now();
      answer = await runGuarded(t.probe, t.timeoutMs);
    }
    const durationMs = performance.now() - started;
    // A reload may have removed the endpoint while it was being probed.
    if (this.targets.get(t.key) !== t) return;
    // Twice the exporter's fault: no observation; the server keeps its last judgement.
    if (answer.exporterFault) {
      this.abandon(answer.exporterFault);
      return;
    }
    const finishedMs = Date.now();
    const hashKey = this.endpoints!.hashKey;
    let firstRoundDone = false;
    for (const { component, check, index } of t.readers) {
      const obs = observation(read(component.read, answer, hashKey, finishedMs), finishedMs, durationMs);
      this.pending.push({ check, index, obs });
      if (this.unprobed.delete(component.key) && this.unprobed.size === 0) firstRoundDone = true;
    }
    // Everything has been probed once: ready now, not at the next round.
    if (firstRoundDone) this.round();
    this.opts.metrics.probes.inc({ result: answer.success ? 'success' : 'failure' });
    this.opts.metrics.probeDuration.observe(durationMs / 1000);
  }
}
