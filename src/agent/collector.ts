import type { Logger } from '../log.js';
import { VERSION } from '../version.js';
import type { AgentConfig, AgentFact } from './config.js';
import { FactError, type FactErrorReason, type FactFields } from './facts/types.js';
import type { AgentMetrics } from './metrics.js';
import { readNodeInfo, type NodeInfo } from './node.js';

/** The version of the document's shape; it changes only when a field changes meaning or goes. */
export const SCHEMA_VERSION = 1;

/** One fact in the document: its kind, when it was read, and its fields or why it could not be read. */
export type FactEntry =
  | ({ readonly kind: string; readonly ok: true; readonly readAt: number } & FactFields)
  | { readonly kind: string; readonly ok: false; readonly readAt: number; readonly error: FactErrorReason; readonly detail: string };

/** `GET /api/v1/facts` (docs/agent.md, "The facts document"). Times in seconds since the epoch. */
export interface FactsDocument {
  readonly schemaVersion: number;
  readonly agent: { readonly version: string };
  /** The node, with `time`: its clock when the answer was made (not cached), so skew between nodes shows. */
  readonly node: NodeInfo & { readonly time: number };
  /** When this reading of the facts started. */
  readonly collectedAt: number;
  readonly facts: Readonly<Record<string, FactEntry>>;
}

interface Reading {
  readonly node: NodeInfo;
  readonly collectedAt: number;
  readonly facts: Readonly<Record<string, FactEntry>>;
}

export interface CollectorDeps {
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  /** Clock in ms since the epoch; tests may pass their own. */
  readonly now?: () => number;
}

/**
 * Reads every fact on request, at most once per `min_interval`: answers in between share
 * the last reading, and a request while a reading runs waits for it rather than starting
 * another. A fact that cannot be read becomes an error entry; reading never throws.
 */
export class Collector {
  private last: { readonly startedMs: number; readonly reading: Promise<Reading>; settled: boolean } | undefined;
  /** The last error reason of each fact, so a lasting error is logged once, not every reading. */
  private readonly failing = new Map<string, string>();
  private readonly now: () => number;

  constructor(
    private readonly config: AgentConfig,
    private readonly deps: CollectorDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  async document(): Promise<FactsDocument> {
    const startedMs = this.now();
    let last = this.last;
    const reuse = last !== undefined && (!last.settled || startedMs - last.startedMs < this.config.minIntervalMs);
    this.deps.metrics.answers.inc({ cached: String(reuse) });
    if (!reuse) {
      const fresh = { startedMs, reading: this.collect(startedMs), settled: false };
      // Settled either way: a reading that failed is replaced by the next request after min_interval.
      fresh.reading.finally(() => (fresh.settled = true)).catch(() => {});
      this.last = last = fresh;
    }
    const reading = await last!.reading;
    return {
      schemaVersion: SCHEMA_VERSION,
      agent: { version: VERSION },
      node: { ...reading.node, time: this.now() / 1000 },
      collectedAt: reading.collectedAt,
      facts: reading.facts,
    };
  }

  private async collect(startedMs: number): Promise<Reading> {
    const { metrics } = this.deps;
    metrics.collections.inc();
    const end = metrics.collectionDuration.startTimer();
    const [node, entries] = await Promise.all([readNodeInfo(), Promise.all(this.config.facts.map((f) => this.readFact(f)))]);
    end();
    const facts: Record<string, FactEntry> = {};
    this.config.facts.forEach((f, i) => (facts[f.name] = entries[i]!));
    return { node, collectedAt: startedMs / 1000, facts };
  }

  private async readFact(fact: AgentFact): Promise<FactEntry> {
    const read = await readOnce(fact, this.config.readTimeoutMs);
    const entry: FactEntry =
      read instanceof FactError
        ? { kind: fact.kind, ok: false, readAt: this.now() / 1000, error: read.reason, detail: read.detail }
        : { kind: fact.kind, ok: true, readAt: this.now() / 1000, ...read };
    const { metrics, logger } = this.deps;
    metrics.factReads.inc({ fact: fact.name, result: entry.ok ? 'success' : 'error' });
    metrics.factReadSuccess.set({ fact: fact.name }, entry.ok ? 1 : 0);
    const before = this.failing.get(fact.name);
    if (entry.ok) {
      if (before !== undefined) logger.info({ fact: fact.name }, 'fact readable again');
      this.failing.delete(fact.name);
    } else if (before !== `${entry.error} ${entry.detail}`) {
      logger.warn({ fact: fact.name, reason: entry.error, detail: entry.detail }, 'fact unreadable');
      this.failing.set(fact.name, `${entry.error} ${entry.detail}`);
    }
    return entry;
  }
}

/**
 * Reads `fact` once within `ms` milliseconds: its fields, or the FactError that says why not
 * (`timeout` once `ms` have passed). Anything but a FactError thrown by a reader is a bug in
 * it: kept as data, named only by its class, never its message (which may quote a secret).
 */
export async function readOnce(fact: AgentFact, ms: number): Promise<FactFields | FactError> {
  try {
    return await withDeadline(fact.read(), ms);
  } catch (err) {
    return err instanceof FactError ? err : new FactError('error', err instanceof Error ? err.name : 'error');
  }
}

/**
 * A fact's reading, or the error `timeout` once `ms` have passed. The reading itself goes
 * on (a file read cannot be aborted) but no longer holds the answer back.
 */
async function withDeadline(reading: Promise<FactFields>, ms: number): Promise<FactFields> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FactError('timeout', `not read within ${ms} ms`)), ms);
  });
  reading.catch(() => {});
  try {
    return await Promise.race([reading, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
