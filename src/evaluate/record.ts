import type { ProbeReason } from '../reasons.js';
import type { ProbeResult } from '../probes/types.js';

/** The last probe of a component, with its timing. */
export interface Observation extends ProbeResult {
  readonly finishedMs: number;
  readonly durationMs: number;
}

/** What the monitor keeps per component: the last observation and running facts. */
export interface ComponentRecord {
  last?: Observation;
  lastSuccessMs?: number;
  /** Facts from the latest probe that reported each one. */
  version?: string;
  keyHash?: string;
  /** The heartbeat of the latest answer, when it held a valid one (see observe()). */
  heartbeatMs?: number;
  /** Why the latest answer held no valid heartbeat; cleared by a valid one. */
  heartbeatProblem?: string;
  os?: string;
  /** Text facts of the latest answer that was read. */
  facts?: Readonly<Record<string, string>>;
  failures: Partial<Record<ProbeReason, number>>;
  /** The last probe results, packed one number each, and the next slot to write (see recent.ts: replaced on write, never changed in place). */
  recent?: number[];
  recentNext?: number;
}

export { recordKey } from '../config/load.js';

/** The failure counts of a record without failures: shared, frozen; observe() replaces it at the first failure. */
const NO_FAILURES: Partial<Record<ProbeReason, number>> = Object.freeze({});

/**
 * A probe's result and its timing as one object with every field in place (see newRecord):
 * adding the timing to the result would put both in a property array, and the result of
 * every component's last probe is kept (what that costs at 30,000 components: bench/RESULTS.md).
 * `finishedMs`: ms since the epoch; `durationMs`: ms.
 */
export function observation(result: ProbeResult, finishedMs: number, durationMs: number): Observation {
  return {
    success: result.success,
    reason: result.reason,
    detail: result.detail,
    status: result.status,
    version: result.version,
    keyHash: result.keyHash,
    heartbeatMs: result.heartbeatMs,
    heartbeatProblem: result.heartbeatProblem,
    os: result.os,
    values: result.values,
    facts: result.facts,
    problems: result.problems,
    certNotAfterMs: result.certNotAfterMs,
    finishedMs,
    durationMs,
  };
}

/**
 * A record before its first probe, with every field there from the start: V8 keeps the
 * fields of an object literal in the object itself, while fields added later go to a
 * separate property array, kept for every component (bench/RESULTS.md). Its
 * failure counts are a shared empty object until the first failure.
 */
export function newRecord(): ComponentRecord {
  return {
    last: undefined,
    lastSuccessMs: undefined,
    version: undefined,
    keyHash: undefined,
    heartbeatMs: undefined,
    heartbeatProblem: undefined,
    os: undefined,
    facts: undefined,
    failures: NO_FAILURES,
    recent: undefined,
    recentNext: undefined,
  };
}

/**
 * A copy of the record's failure counts, which observe() changes in place; undefined when
 * there are none (most components), so nothing is copied for them.
 */
export function failureCounts(r: ComponentRecord | undefined): Readonly<Partial<Record<ProbeReason, number>>> | undefined {
  if (r === undefined) return undefined;
  for (const _ in r.failures) return { ...r.failures };
  return undefined;
}

/**
 * Folds one observation into a record. The heartbeat follows the latest answer that was
 * read: a valid one replaces the kept value, an invalid or missing one drops it, so
 * judgement falls back to the last successful probe and `heartbeatProblem` says why. Keeping
 * the old value instead would turn a server that zeroes its heartbeat (but still answers)
 * Offline once that value ages past the stale timeout. A probe that got no answer to
 * read (refused, timeout) leaves both alone: the heartbeat then ages as it should.
 */
export function observe(record: ComponentRecord, obs: Observation): void {
  record.last = obs;
  if (obs.success) record.lastSuccessMs = obs.finishedMs;
  else if (obs.reason) {
    if (record.failures === NO_FAILURES) record.failures = {};
    record.failures[obs.reason] = (record.failures[obs.reason] ?? 0) + 1;
  }
  if (obs.version !== undefined) record.version = obs.version;
  if (obs.keyHash !== undefined) record.keyHash = obs.keyHash;
  if (obs.heartbeatMs !== undefined || obs.heartbeatProblem !== undefined) {
    record.heartbeatMs = obs.heartbeatMs;
    record.heartbeatProblem = obs.heartbeatProblem;
  }
  if (obs.os !== undefined) record.os = obs.os;
  if (obs.facts !== undefined) record.facts = obs.facts;
}
