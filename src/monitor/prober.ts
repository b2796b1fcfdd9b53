import type { Config, Reading } from '../config/types.js';
import { serverKey } from '../config/record-key.js';
import { observation, type Observation } from '../evaluate/record.js';
import { buildProbes, type EndpointProbes } from '../probes/build.js';
import { read } from '../probes/extract.js';
import type { EndpointProbe, ExporterFault } from '../probes/types.js';
import { runGuarded } from './deadline.js';
import { Slots } from './slots.js';

/** How the prober runs: set once, when its thread starts. */
export interface ProberOptions {
  /** Most probes running at once, across all clusters. */
  readonly concurrency: number;
  /** How often results are handed over (ms): the judgement's round. */
  readonly roundMs: number;
  /**
   * Where in its interval each endpoint's steady schedule falls, as a fraction in [0, 1);
   * default a random one per endpoint, so that probes spread over the interval. Tests fix it.
   */
  readonly phase?: number;
  /** The secret that keys fingerprints when the configuration sets none (32 bytes): the same for the process's life. */
  readonly keySecret: Uint8Array;
}

/** One component's observation, by its key (`ComponentConfig.key`). */
export interface ComponentResult {
  readonly key: string;
  readonly obs: Observation;
}

/**
 * What the prober hands over each round: the results since the last one, and what the
 * exporter's own metrics count of the probes behind them. Plain data, for `postMessage`;
 * the prober fills it in as probes finish (its fields are written, hence not readonly).
 */
export interface RoundReport {
  kind: 'round';
  results: ComponentResult[];
  /** Probes finished, by outcome. */
  succeeded: number;
  failed: number;
  /** Durations of the probes finished (seconds) and how late each started against its schedule (seconds). */
  durations: number[];
  lags: number[];
  /** Probes not started because the endpoint's previous one was still running. */
  skipped: number;
  /** Probes whose failure was the exporter's own, by cause (not counted against a server). */
  abandoned: Partial<Record<ExporterFault, number>>;
  /** Probes running at the moment of the report. */
  inFlight: number;
}

/** A line the prober asks the exporter's logger to write. */
export interface ProberLog {
  readonly kind: 'log';
  readonly level: 'warn' | 'error';
  readonly fields: Record<string, string | number>;
  readonly msg: string;
}

/** Everything the prober sends: a round, a log line, or the word that it has stopped. */
export type ProberMessage = RoundReport | ProberLog | { readonly kind: 'stopped' };

/** One endpoint of one server: what is scheduled and probed. */
interface Target {
  readonly key: string;
  /** The server's key: its endpoints are asked again together when one of them changes its answer. */
  server: string;
  probe: EndpointProbe;
  /** The components that read the endpoint's answer, each by key with what it reads. */
  readers: readonly { readonly key: string; readonly read: Reading }[];
  intervalMs: number;
  timeoutMs: number;
  /** The instant its next probe is scheduled for (a slot's start, ms since the epoch). */
  dueMs: number;
  /** Queued or running: an endpoint is never probed twice at once. */
  busy: boolean;
  /** On its steady schedule; false until its first probe (queued at once) has finished. */
  steady: boolean;
  /** Whether its latest answer failed (undefined before the first): a change asks the server's endpoints that answer the other way at once. */
  failed: boolean | undefined;
  /**
   * When a sibling's change last had it asked early, by the direction of that change (ms
   * since the epoch): at most once per its own interval each way, so a flapping sibling
   * cannot drive it at the flapper's rate.
   */
  askedEarlyMs: { onFailure: number; onRecovery: number };
}

/**
 * Probes are scheduled in slots of this many milliseconds: what falls due within one starts
 * together, on one wake-up of the thread (src/monitor/slots.ts). Schedule lag is counted
 * from the slot's start.
 */
const SLOT_MS = 100;

/**
 * Probes every server's endpoints: each new endpoint at once (at start and when a
 * configuration adds it), then once per interval (the shortest heartbeat interval of the
 * components that read it) at a fixed point of it, under one bound on concurrent probes.
 * Every component reading an endpoint reads the same answer, here, so that an answer (and
 * any raw key in it) never leaves this thread; only the observations do, handed over in
 * rounds every `roundMs`, and at once when the last endpoint of a configuration has had
 * its first probe.
 *
 * It runs on a thread of its own (prober-thread.ts): nothing the web side does (checking
 * passwords, writing a large scrape, validating a reload) can delay a probe, its deadline
 * or its result. When an endpoint of a server answers again after failing, or fails after
 * answering, the server's other endpoints that answered the other way are asked at once: a
 * server that comes back shows Online within a round, not an interval later, and one that
 * dies says nothing more of itself (no last "I am the leader") once that probe is in. Each
 * endpoint is asked early at most once per its own interval each way, however often a
 * sibling flaps.
 */
export class Prober {
  private endpoints?: EndpointProbes;
  private readonly closing = new Set<Promise<void>>();
  private readonly targets = new Map<string, Target>();
  private readonly byServer = new Map<string, Target[]>();
  private readonly slots = new Slots<Target>(SLOT_MS, (t) => this.due(t));
  private readonly queue: Target[] = [];
  private running = 0;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly roundTimer: NodeJS.Timeout;
  /** Endpoints queued for their first probe and not done yet: at 0, the round is handed over at once. */
  private firsts = 0;
  private report = Prober.emptyReport();
  private readonly keySecret: Buffer;

  constructor(
    private readonly opts: ProberOptions,
    private readonly send: (message: ProberMessage) => void,
  ) {
    this.keySecret = Buffer.from(opts.keySecret);
    this.roundTimer = setInterval(() => this.flush(), opts.roundMs);
  }

  private static emptyReport(): Omit<RoundReport, 'inFlight'> {
    return { kind: 'round', results: [], succeeded: 0, failed: 0, durations: [], lags: [], skipped: 0, abandoned: {} };
  }

  /**
   * Swaps in a configuration and its probes; the old probes' pools close once their last
   * probe is done. Endpoints still configured keep their phase; new ones are probed at once.
   */
  apply(config: Config): void {
    const endpoints = buildProbes(config, this.keySecret);
    for (const warning of endpoints.warnings) this.send({ kind: 'log', level: 'warn', fields: { file: config.file }, msg: warning });
    const now = Date.now();
    const wanted = new Map<string, Pick<Target, 'server' | 'probe' | 'readers' | 'intervalMs' | 'timeoutMs'>>();
    for (const cluster of config.clusters) {
      for (const server of cluster.servers) {
        const key = serverKey(cluster.name, server.name);
        for (const e of server.endpoints) {
          const readers = server.components.flatMap((c) => (c.endpoint === e.key ? [{ key: c.key, read: c.read }] : []));
          wanted.set(e.key, { server: key, probe: endpoints.probes.get(e.key)!, readers, intervalMs: e.intervalMs, timeoutMs: e.timeoutMs });
        }
      }
    }
    for (const [key, t] of this.targets) {
      if (!wanted.has(key)) {
        this.slots.remove(t);
        this.targets.delete(key);
      }
    }
    this.byServer.clear();
    this.firsts = 0;
    for (const [key, w] of wanted) {
      let t = this.targets.get(key);
      if (t) {
        const reschedule = t.steady && t.intervalMs !== w.intervalMs;
        Object.assign(t, w);
        if (reschedule) this.schedule(t, now + this.phase() * w.intervalMs);
      } else {
        // The first probe: queued at once, bounded by the concurrency like any probe.
        // Every field written out (not spread from `w`), so that V8 keeps them in the object.
        t = { key, server: w.server, probe: w.probe, readers: w.readers, intervalMs: w.intervalMs, timeoutMs: w.timeoutMs, dueMs: now, busy: true, steady: false, failed: undefined, askedEarlyMs: { onFailure: -Infinity, onRecovery: -Infinity } };
        this.targets.set(key, t);
        this.queue.push(t);
      }
      if (!t.steady) this.firsts++;
      const siblings = this.byServer.get(t.server);
      if (siblings) siblings.push(t);
      else this.byServer.set(t.server, [t]);
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
    this.drain();
  }

  /** Stops probing, waits for running probes, hands their results over and closes every connection pool. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.roundTimer);
    this.slots.clear();
    this.queue.length = 0;
    await Promise.all(this.inFlight);
    this.flush();
    await Promise.all(this.closing);
    await this.endpoints?.close();
  }

  /** Hands the results since the last round over (an empty round too: it is the judgement's clock). */
  private flush(): void {
    const report: RoundReport = { ...this.report, inFlight: this.running };
    this.report = Prober.emptyReport();
    this.send(report);
  }

  private phase(): number {
    return this.opts.phase ?? Math.random();
  }

  private schedule(t: Target, dueMs: number): void {
    t.dueMs = this.slots.add(t, dueMs);
  }

  private due(t: Target): void {
    if (this.stopped || this.targets.get(t.key) !== t) return;
    if (t.busy) this.report.skipped++;
    else this.enqueue(t);
    // Fixed rate against the schedule, not against when the probe finished.
    let next = t.dueMs + t.intervalMs;
    const now = Date.now();
    while (next <= now) next += t.intervalMs;
    this.schedule(t, next);
  }

  private enqueue(t: Target): void {
    t.busy = true;
    this.queue.push(t);
    this.drain();
  }

  private drain(): void {
    while (this.running < this.opts.concurrency && this.queue.length > 0) {
      const t = this.queue.shift()!;
      this.running++;
      const p = this.run(t).finally(() => {
        this.running--;
        t.busy = false;
        this.inFlight.delete(p);
        if (!t.steady && !this.stopped && this.targets.get(t.key) === t) {
          // After the first probe, a point of the interval: probes spread over it.
          t.steady = true;
          this.schedule(t, Date.now() + this.phase() * t.intervalMs);
        }
        this.drain();
      });
      this.inFlight.add(p);
    }
  }

  /** Counts and logs a probe whose failure was the exporter's own (see ExporterFault). */
  private abandon(fault: ExporterFault): void {
    this.report.abandoned[fault] = (this.report.abandoned[fault] ?? 0) + 1;
    const msg = fault === 'open_files' ? 'a probe failed for want of open files: not counted against the server' : 'the prober stalled past a probe deadline: not counted against the server';
    this.send({ kind: 'log', level: 'warn', fields: { cause: fault }, msg });
  }

  private async run(t: Target): Promise<void> {
    let started = performance.now();
    this.report.lags.push(Math.max(0, Date.now() - t.dueMs) / 1000);
    let answer = await runGuarded(t.probe, t.timeoutMs);
    if (answer.exporterFault) {
      // Not the server's doing (the exporter's files ran out, or this thread stalled past the
      // deadline): counted as the exporter's, and asked again at once.
      this.abandon(answer.exporterFault);
      started = performance.now();
      answer = await runGuarded(t.probe, t.timeoutMs);
    }
    const durationMs = performance.now() - started;
    const first = !t.steady;
    // A reload may have removed the endpoint while it was being probed.
    if (this.targets.get(t.key) !== t) return;
    // Twice the exporter's fault: no observation; the server keeps its last judgement.
    if (answer.exporterFault) {
      this.abandon(answer.exporterFault);
      if (first && --this.firsts === 0) this.flush();
      return;
    }
    const finishedMs = Date.now();
    const hashKey = this.endpoints!.hashKey;
    for (const r of t.readers) this.report.results.push({ key: r.key, obs: observation(read(r.read, answer, hashKey, finishedMs), finishedMs, durationMs) });
    if (answer.success) this.report.succeeded++;
    else this.report.failed++;
    this.report.durations.push(durationMs / 1000);
    // A change of answer is news of the whole server: its other endpoints that still answer
    // the other way are asked now, not at their next slot. A server that comes back shows
    // Online at once; one that dies stops counting as, say, the leader its status endpoint
    // said it was a moment before (judgeExpectations counts each server by its own word).
    const changed = t.failed !== undefined && t.failed === answer.success;
    t.failed = !answer.success;
    if (changed) {
      const way = answer.success ? 'onRecovery' : 'onFailure';
      for (const sibling of this.byServer.get(t.server) ?? []) {
        if (sibling === t || sibling.failed !== answer.success || sibling.busy || finishedMs - sibling.askedEarlyMs[way] < sibling.intervalMs) continue;
        sibling.askedEarlyMs[way] = finishedMs;
        this.enqueue(sibling);
      }
    }
    // Everything has been probed once: the judgement hears of it now, not at the next round.
    if (first && --this.firsts === 0) this.flush();
  }
}
