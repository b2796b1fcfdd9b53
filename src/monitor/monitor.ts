import type { ClusterConfig, Config, ServerConfig } from '../config/types.js';
import { evaluate, judgeServer } from '../evaluate/evaluate.js';
import type { ServerState, Snapshot } from '../evaluate/snapshot.js';
import type { Logger } from '../log.js';
import type { OwnMetrics } from '../metrics/own.js';
import type { Probe, ProbeResult } from '../probes/types.js';
import { observe, type ComponentRecord } from './record.js';

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

interface Target {
  readonly key: string;
  /** The transition check of the target's server, told when a probe finishes. */
  check?: ServerCheck;
  probe: Probe;
  intervalMs: number;
  timeoutMs: number;
  dueMs: number;
  timer?: NodeJS.Timeout;
  /** Queued or running: a component is never probed twice at once. */
  busy: boolean;
}

/**
 * Probes every configured component in the background on its cluster's heartbeat
 * interval, with a random first offset so probes spread over the interval, under one
 * bound on concurrent probes. Keeps the last observation of each component.
 */
export class Monitor {
  private config: Config;
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

  /** Swaps in a new configuration. Components still configured keep their records and phase. */
  apply(config: Config): void {
    const wanted = new Map<string, { probe: Probe; intervalMs: number; timeoutMs: number }>();
    for (const cluster of config.clusters) {
      for (const server of cluster.servers) {
        for (const c of server.components) {
          wanted.set(c.key, {
            probe: c.probe,
            intervalMs: cluster.heartbeatIntervalMs,
            timeoutMs: c.probeTimeoutMs,
          });
        }
      }
    }
    for (const [key, t] of this.targets) {
      if (!wanted.has(key)) {
        clearTimeout(t.timer);
        this.targets.delete(key);
        this.records.delete(key);
      }
    }
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
      this.records.set(key, { failures: {} });
      this.schedule(target, now + random() * w.intervalMs);
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
    for (const check of this.checks) for (const c of check.server.components) this.targets.get(c.key)!.check = check;
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

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.transitionTimer);
    for (const t of this.targets.values()) clearTimeout(t.timer);
    this.queue.length = 0;
    await Promise.all(this.inFlight);
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
    const result = await runGuarded(t.probe, controller.signal);
    clearTimeout(timer);
    const durationMs = performance.now() - started;
    const record = this.records.get(t.key);
    // A reload may have removed the component while it was being probed.
    if (!record || this.targets.get(t.key) !== t) return;
    observe(record, { ...result, finishedMs: Date.now(), durationMs });
    if (t.check) t.check.dirty = true;
    this.opts.metrics.probes.inc({ result: result.success ? 'success' : 'failure' });
    this.opts.metrics.probeDuration.observe(durationMs / 1000);
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
async function runGuarded(probe: Probe, signal: AbortSignal): Promise<ProbeResult> {
  const deadline = new Promise<ProbeResult>((resolve) => {
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
