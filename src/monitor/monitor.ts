import { randomBytes } from 'node:crypto';
import type { ReloadResult } from '../config/store.js';
import type { Config, ServerConfig } from '../config/types.js';
import { Judgement, serverKey, type History } from '../evaluate/evaluate.js';
import { events as event, type ClusterEvent, type EventKind } from '../evaluate/events.js';
import { newRecord, type ComponentRecord, type Observation } from '../evaluate/record.js';
import type { Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import type { OwnMetrics } from '../metrics/own.js';
import { intern } from '../probes/extract.js';
import { EventLog, type EventPage, type EventQuery, type UNKNOWN_CLUSTER } from './event-log.js';
import type { ProberMessage } from './prober.js';
import { ProberThread } from './prober-thread.js';
import { Transitions, type ServerCheck } from './transitions.js';

export interface MonitorOptions {
  /** Most probes running at once, across all clusters. */
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics: OwnMetrics;
  /** How often a round folds the probe results in and judges them (default 1 s). */
  readonly roundMs?: number;
  /** Where in its interval each endpoint's steady schedule falls, a fraction in [0, 1) (default random per endpoint; tests fix it). */
  readonly phase?: number;
}

/** Where a component's results are folded: its server's check and its place in it. */
interface Reader {
  readonly check: ServerCheck;
  readonly index: number;
}

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
 * Judges what the prober (prober.ts, on a thread of its own) observes: every server's
 * endpoints probed in the background, each new endpoint at once, then once per interval.
 *
 * Results come in rounds (every second, and at once when the first probe of every
 * component is in): a round folds them in, judges what changed (Transitions), logs it and
 * keeps it in the event log, and starts a new snapshot. Between rounds nothing a snapshot
 * reads changes, so `/metrics`, the API, the page and the log judge alike: every logged
 * change is in the snapshot of the same round, and no change is logged that no snapshot
 * shows. A busy main thread delays rounds, never probes: their results wait in order.
 */
export class Monitor {
  private config: Config;
  private prober?: ProberThread;
  private stopped = false;
  /** Keys fingerprints when the configuration sets no secret: one for the process's life, whichever thread hashes. */
  private readonly keySecret = randomBytes(32);
  private readonly records = new Map<string, ComponentRecord>();
  /** Components by key: where each result is folded. */
  private readers = new Map<string, Reader>();
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
    this.prober = this.startProber();
    this.apply(this.config);
  }

  /** A prober thread whose rounds this monitor judges; should it fail, another takes over a second later. */
  private startProber(): ProberThread {
    const options = { concurrency: this.opts.concurrency, roundMs: this.opts.roundMs ?? 1000, phase: this.opts.phase, keySecret: this.keySecret };
    return new ProberThread(options, (message) => this.receive(message), (why) => {
      this.opts.logger.error({ error: why }, 'the prober thread failed: starting another');
      const restart = setTimeout(() => {
        if (this.stopped) return;
        this.prober = this.startProber();
        this.prober.apply(this.config);
      }, 1000);
      restart.unref();
    });
  }

  /** A message of the prober: a round's results and counts, or a line to log. */
  private receive(message: ProberMessage): void {
    if (message.kind === 'log') {
      this.opts.logger[message.level](message.fields, message.msg);
      return;
    }
    if (message.kind !== 'round') return;
    const m = this.opts.metrics;
    if (message.succeeded > 0) m.probes.inc({ result: 'success' }, message.succeeded);
    if (message.failed > 0) m.probes.inc({ result: 'failure' }, message.failed);
    for (const d of message.durations) m.probeDuration.observe(d);
    for (const l of message.lags) m.scheduleLag.observe(l);
    if (message.skipped > 0) m.probesSkipped.inc(message.skipped);
    for (const [cause, n] of Object.entries(message.abandoned)) m.probesAbandoned.inc({ cause }, n);
    m.probesInFlight.set(message.inFlight);
    for (const { key, obs } of message.results) {
      // A result of a component that a reload has since removed.
      const reader = this.readers.get(key);
      if (!reader) continue;
      this.pending.push({ check: reader.check, index: reader.index, obs: settled(obs) });
      this.unprobed.delete(key);
    }
    this.round();
  }

  /**
   * Swaps in a new configuration and hands it to the prober. Components still configured
   * keep their records, servers their state; the prober keeps the phase of endpoints still
   * configured and probes new ones at once.
   */
  apply(config: Config): void {
    // Results of the old configuration are judged under it first.
    if (this.pending.length > 0) this.round();
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
    const servers = new Map<string, ServerConfig>();
    const readers = new Map<string, Reader>();
    for (const cluster of config.clusters) {
      for (const server of cluster.servers) {
        servers.set(serverKey(cluster.name, server.name), server);
        const check = this.transitions.check(cluster.name, server.name)!;
        server.components.forEach((c, index) => readers.set(c.key, { check, index }));
      }
    }
    this.servers = servers;
    this.readers = readers;
    this.config = config;
    this.eventLog.retain(new Set(config.clusters.map((c) => c.name)));
    this.prober?.apply(config);
    // The new configuration shows at once: removed servers are gone, new ones pending.
    this.round(now);
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

  /** Events after a cursor, oldest first, at most `limit`: of one cluster, or of all and the exporter's own (EventLog.query). */
  events(opts: EventQuery): EventPage | typeof UNKNOWN_CLUSTER {
    return this.eventLog.query(opts);
  }

  /** Records a reload's outcome as an event, shown from the next snapshot on. */
  noteReload(result: ReloadResult, nowMs = Date.now()): void {
    this.eventLog.add(result.ok ? event.reloaded(nowMs / 1000, result.changed, this.config.clusters.length) : event.reloadFailed(nowMs / 1000, result.error));
    this.nextRound();
  }

  /** Stops probing: running probes finish, their results are folded in, and every connection pool closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.prober?.stop();
    this.round();
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
    const logged = LOGGED[e.kind];
    if (!logged) return;
    const msg = e.kind === 'server_offline' && e.from === 'pending' ? 'server offline when first checked' : logged;
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
}

/**
 * An observation as it arrived from the prober's thread, its texts made one copy each again
 * (the copy across threads makes each its own): every server of a cluster reports the same
 * version, OS, key hash and facts, kept for every component.
 */
function settled(obs: Observation): Observation {
  const facts = obs.facts && Object.keys(obs.facts).length > 0 ? Object.fromEntries(Object.entries(obs.facts).map(([k, v]) => [intern(k), intern(v)])) : obs.facts;
  return {
    ...obs,
    version: obs.version === undefined ? undefined : intern(obs.version),
    keyHash: obs.keyHash === undefined ? undefined : intern(obs.keyHash),
    os: obs.os === undefined ? undefined : intern(obs.os),
    status: obs.status === undefined ? undefined : intern(obs.status),
    facts,
  };
}
