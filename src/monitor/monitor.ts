import type { ClusterConfig, ComponentConfig, Config, ServerConfig } from '../config/types.js';
import { evaluate, judgeServer } from '../evaluate/evaluate.js';
import type { ServerState, Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import type { OwnMetrics } from '../metrics/own.js';
import { buildProbes, type EndpointProbes } from '../probes/build.js';
import { read } from '../probes/extract.js';
import type { Answer, EndpointProbe } from '../probes/types.js';
import { observe, type ComponentRecord } from '../evaluate/record.js';

export interface MonitorOptions {
  /** Most probes running at once, across all clusters. */
  readonly concurrency: number;
  readonly logger: Logger;
  readonly metrics: OwnMetrics;
  /** How often server states are re-judged for the transition log. */
  readonly transitionCheckMs?: number;
  readonly random?: () => number;
}

/** One server as the transition log sees it. */
interface ServerCheck {
  readonly cluster: ClusterConfig;
  readonly server: ServerConfig;
  readonly key: string;
  /** The records of `server.components`, in the same order. */
  readonly recs: readonly (ComponentRecord | undefined)[];
  /** A probe of the server finished since it was last judged. */
  dirty: boolean;
  /** Without new probes, the judgement can change no earlier than this (a heartbeat going stale). */
  recheckAt: number;
}

/** One endpoint of one server: what is scheduled and probed. */
interface Target {
  readonly key: string;
  /** The transition check of the target's server, told when a probe finishes. */
  check?: ServerCheck;
  probe: EndpointProbe;
  /** The components that read the endpoint's answer, with their records. */
  readers: readonly { readonly component: ComponentConfig; readonly cluster: string; readonly server: string }[];
  intervalMs: number;
  timeoutMs: number;
  dueMs: number;
  timer?: NodeJS.Timeout;
  /** Queued or running: a component is never probed twice at once. */
  busy: boolean;
}

/**
 * Probes every server's endpoints in the background, each once per interval (the shortest
 * heartbeat interval of the components that read it), with a random first offset so
 * probes spread over the interval, under one bound on concurrent probes. Every component
 * reading an endpoint reads the same answer; the last observation of each component is kept.
 */
export class Monitor {
  private config: Config;
  private endpoints?: EndpointProbes;
  private readonly closing = new Set<Promise<void>>();
  private readonly targets = new Map<string, Target>();
  private readonly records = new Map<string, ComponentRecord>();
  private readonly queue: Target[] = [];
  private running = 0;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private transitionTimer?: NodeJS.Timeout;
  private readonly serverStates = new Map<string, ServerState>();
  /** Per server, resolved once per configuration: what the transition log judges every second. */
  private checks: ServerCheck[] = [];

  constructor(
    config: Config,
    private readonly opts: MonitorOptions,
  ) {
    this.config = config;
  }

  get currentConfig(): Config {
    return this.config;
  }

  start(): void {
    this.apply(this.config);
    this.transitionTimer = setInterval(() => this.logTransitions(), this.opts.transitionCheckMs ?? 1000);
    this.transitionTimer.unref();
  }

  /**
   * Swaps in a new configuration and its probes; the old probes' pools close once their
   * last probe is done. Endpoints still configured keep their phase, components their records.
   */
  apply(config: Config): void {
    const endpoints = buildProbes(config);
    for (const warning of endpoints.warnings) this.opts.logger.warn({ file: config.file }, warning);
    const wanted = new Map<string, Pick<Target, 'probe' | 'readers' | 'intervalMs' | 'timeoutMs'>>();
    const components = new Set<string>();
    for (const cluster of config.clusters) {
      for (const server of cluster.servers) {
        for (const e of server.endpoints) {
          const readers = server.components.filter((c) => c.endpoint === e.key).map((component) => ({ component, cluster: cluster.name, server: server.name }));
          wanted.set(e.key, { probe: endpoints.probes.get(e.key)!, readers, intervalMs: e.intervalMs, timeoutMs: e.timeoutMs });
        }
        for (const c of server.components) components.add(c.key);
      }
    }
    for (const [key, t] of this.targets) {
      if (!wanted.has(key)) {
        clearTimeout(t.timer);
        this.targets.delete(key);
      }
    }
    for (const key of this.records.keys()) if (!components.has(key)) this.records.delete(key);
    for (const key of components) if (!this.records.has(key)) this.records.set(key, { failures: {} });
    const now = Date.now();
    const random = this.opts.random ?? Math.random;
    for (const [key, w] of wanted) {
      const existing = this.targets.get(key);
      if (existing) {
        const reschedule = existing.intervalMs !== w.intervalMs;
        Object.assign(existing, w);
        if (reschedule) this.schedule(existing, now + random() * w.intervalMs);
        continue;
      }
      const target: Target = { key, ...w, dueMs: 0, busy: false };
      this.targets.set(key, target);
      this.schedule(target, now + random() * w.intervalMs);
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
    // What the transition log judges every second, resolved once per configuration.
    this.checks = config.clusters.flatMap((cluster) =>
      cluster.servers.map((server) => ({
        cluster,
        server,
        key: serverKey(cluster.name, server.name),
        recs: server.components.map((c) => this.records.get(c.key)),
        dirty: true,
        recheckAt: 0,
      })),
    );
    for (const check of this.checks) for (const e of check.server.endpoints) this.targets.get(e.key)!.check = check;
    const servers = new Set(this.checks.map((check) => check.key));
    for (const key of this.serverStates.keys()) if (!servers.has(key)) this.serverStates.delete(key);
  }

  /** Judges the current state; cheap enough to run on every scrape. */
  snapshot(nowMs = Date.now()): Snapshot {
    return evaluate(this.config, this.records, nowMs);
  }

  /** True once every configured component has been probed at least once. */
  ready(): boolean {
    for (const r of this.records.values()) if (!r.last) return false;
    return true;
  }

  /** Stops probing, waits for running probes and closes every connection pool. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.transitionTimer);
    for (const t of this.targets.values()) clearTimeout(t.timer);
    this.queue.length = 0;
    await Promise.all(this.inFlight);
    await Promise.all(this.closing);
    await this.endpoints?.close();
  }

  private schedule(t: Target, dueMs: number): void {
    clearTimeout(t.timer);
    t.dueMs = dueMs;
    t.timer = setTimeout(() => this.due(t), Math.max(0, dueMs - Date.now()));
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
        this.drain();
      });
      this.inFlight.add(p);
    }
  }

  private async run(t: Target): Promise<void> {
    const started = performance.now();
    const startedMs = Date.now();
    this.opts.metrics.scheduleLag.observe(Math.max(0, startedMs - t.dueMs) / 1000);
    // A deadline that is cleared when the probe settles: AbortSignal.timeout() would stay
    // armed for the whole timeout and build a DOMException (with a stack) for every probe.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), t.timeoutMs);
    const answer = await runGuarded(t.probe, controller.signal);
    clearTimeout(timer);
    const durationMs = performance.now() - started;
    // A reload may have removed the endpoint while it was being probed.
    if (this.targets.get(t.key) !== t) return;
    const finishedMs = Date.now();
    const hashKey = this.endpoints!.hashKey;
    for (const { component, cluster, server } of t.readers) {
      const record = this.records.get(component.key);
      if (!record) continue;
      const before = record.facts;
      const hadProblems = record.last?.problems;
      observe(record, { ...read(component.read, answer, hashKey, finishedMs), finishedMs, durationMs });
      if (before && record.facts && record.facts !== before) this.logFactChanges(cluster, server, component.name, before, record.facts);
      const problems = record.last?.problems;
      if (problems && problems.join() !== hadProblems?.join()) {
        this.opts.logger.debug({ app_cluster: cluster, server, component: component.name, problems: problems.join('; ') }, 'answer lacks configured values or facts');
      }
    }
    if (t.check) t.check.dirty = true;
    this.opts.metrics.probes.inc({ result: answer.success ? 'success' : 'failure' });
    this.opts.metrics.probeDuration.observe(durationMs / 1000);
  }

  /** A fact that changes (the leader moves, a node becomes primary) is logged like a state change. */
  private logFactChanges(cluster: string, server: string, component: string, before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): void {
    for (const [fact, value] of Object.entries(after)) {
      const old = before[fact];
      if (old !== undefined && old !== value) {
        this.opts.logger.info({ app_cluster: cluster, server, component, fact, from: old, to: value }, 'fact changed');
      }
    }
  }

  /**
   * Logs a server-log entry when a server goes offline or comes back online. Judges only
   * servers with a new probe result or a heartbeat that may have gone stale since.
   */
  logTransitions(nowMs = Date.now()): void {
    for (const check of this.checks) {
      if (!check.dirty && nowMs < check.recheckAt) continue;
      const { cluster, server: s, key } = check;
      const before = this.serverStates.get(key) ?? 'pending';
      const judged = judgeServer(s, check.recs, nowMs);
      check.dirty = false;
      check.recheckAt = judged.changesAt;
      if (judged.state === before || judged.state === 'pending') continue;
      this.serverStates.set(key, judged.state);
      const fields = { app_cluster: cluster.name, server: s.name, site: s.site, role: s.role };
      if (judged.state === 'offline') this.opts.logger.warn({ ...fields, reason: judged.reason }, 'server offline');
      else if (before === 'offline') this.opts.logger.info(fields, 'server back online');
    }
  }
}

function serverKey(cluster: string, server: string): string {
  return `${cluster}\u0000${server}`;
}

/** A probe never throws past here, and never outlives its deadline even if it ignores the signal. */
async function runGuarded(probe: EndpointProbe, signal: AbortSignal): Promise<Answer> {
  const deadline = new Promise<Answer>((resolve) => {
    signal.addEventListener('abort', () => resolve({ success: false, reason: 'timeout', detail: 'deadline exceeded' }), {
      once: true,
    });
  });
  try {
    return await Promise.race([probe(signal), deadline]);
  } catch {
    return { success: false, reason: 'error', detail: 'probe failed' };
  }
}
