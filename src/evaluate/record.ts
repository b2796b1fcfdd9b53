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
  /**
   * When a component that had answered began failing (the first failure after a success),
   * ms since the epoch; undefined while it answers, and before it ever has. A sibling's
   * answer from before it is in doubt until asked again (saysFact in evaluate.ts).
   */
  failingSinceMs?: number;
  /**
   * When the latest answer that was read (see `readAnswer`) finished, ms since the epoch: the
   * facts below are that answer's. When the last probe read none (refused, timed out,
   * credentials refused), they are last known as of this instant, never current.
   */
  answeredMs?: number;
  /** Facts of the latest answer read; undefined when it did not hold them (unknown, never an older value). */
  version?: string;
  keyHash?: string;
  /** The heartbeat of the latest answer, when it held a valid one (see observe()). */
  heartbeatMs?: number;
  /** Why the latest answer held no valid heartbeat; cleared by a valid one. */
  heartbeatProblem?: string;
  /**
   * When the reported heartbeat was last seen to move, on the exporter's clock (ms since the
   * epoch; see observe()): staleness is judged from it, so a node clock running ahead cannot
   * hide a heartbeat that stopped.
   */
  heartbeatMovedMs?: number;
  /**
   * The node's clock offset (node minus exporter, ms) as the last answer's node time
   * (`Reading.clock`) or, without one, the last moving heartbeat showed it: the smallest
   * offset consistent with it (see observe()); undefined until either was seen.
   */
  clockOffsetMs?: number;
  os?: string;
  /** Text facts of the latest answer that was read. */
  facts?: Readonly<Record<string, string>>;
  failures: Partial<Record<ProbeReason, number>>;
  /** The last probe results, packed one number each, and the next slot to write (see recent.ts: replaced on write, never changed in place). */
  recent?: number[];
  recentNext?: number;
}

export { recordKey } from '../config/record-key.js';

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
    nodeTimeMs: result.nodeTimeMs,
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
    failingSinceMs: undefined,
    answeredMs: undefined,
    version: undefined,
    keyHash: undefined,
    heartbeatMs: undefined,
    heartbeatProblem: undefined,
    heartbeatMovedMs: undefined,
    clockOffsetMs: undefined,
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
 * True when the probe read an answer: a success, or an answer that failed a status check
 * (`read()` gives such a result its values, if only an empty set, and no failure without an
 * answer any).
 */
export function readAnswer(obs: ProbeResult): boolean {
  return obs.success || obs.values !== undefined;
}

/** Failed probes of a record, whatever the reason. */
export function failureTotal(r: ComponentRecord): number {
  let n = 0;
  for (const reason in r.failures) n += r.failures[reason as ProbeReason]!;
  return n;
}

/**
 * Folds one observation into a record. An answer that was read replaces every fact with
 * what it holds: a fact it no longer holds is unknown (its `problems` say why), never the
 * older value. A probe that read no answer (refused, timeout, credentials refused) leaves
 * the facts as they were, last known as of `answeredMs`, and the heartbeat ages as it
 * should.
 *
 * The heartbeat is judged by when it moved, on the exporter's clock: between the previous
 * answer read and this one. A new value is placed at its own time clamped into that span
 * (a node clock ahead or behind moves it to an end; at most one interval off), the first
 * value at its own time but never in the future. An unchanged value keeps its instant,
 * however far ahead the node's clock says it is. An answer without a valid heartbeat drops
 * it, so judgement falls back to the last successful probe and `heartbeatProblem` says why:
 * keeping the old value would turn a server that zeroes its heartbeat (but still answers)
 * Offline once it aged past the stale timeout.
 *
 * The clock offset a moving heartbeat shows is bounded: written at some instant in that
 * span, the node's clock was at least `heartbeat - now` ahead, or at least
 * `previous answer - heartbeat` behind. The smaller bound that is not zero is kept (0 when
 * the heartbeat fits the span), so an offset reported is one the node certainly has. The
 * node's time read from an answer (`Reading.clock`) bounds it closer, by the request's
 * own span, and takes precedence.
 */
export function observe(record: ComponentRecord, obs: Observation): void {
  record.last = obs;
  if (obs.success) {
    record.lastSuccessMs = obs.finishedMs;
    record.failingSinceMs = undefined;
  } else if (record.lastSuccessMs !== undefined) record.failingSinceMs ??= obs.finishedMs;
  if (!obs.success && obs.reason) {
    if (record.failures === NO_FAILURES) record.failures = {};
    record.failures[obs.reason] = (record.failures[obs.reason] ?? 0) + 1;
  }
  if (!readAnswer(obs)) return;
  const previousAnswerMs = record.answeredMs;
  record.answeredMs = obs.finishedMs;
  record.version = obs.version;
  record.keyHash = obs.keyHash;
  record.os = obs.os;
  record.facts = obs.facts;
  const beat = obs.heartbeatMs;
  if (beat === undefined) {
    record.heartbeatMovedMs = undefined;
    record.clockOffsetMs = undefined;
  } else if (record.heartbeatMs === undefined || previousAnswerMs === undefined) {
    record.heartbeatMovedMs = Math.min(obs.finishedMs, beat);
    if (beat > obs.finishedMs) record.clockOffsetMs = beat - obs.finishedMs;
  } else if (beat !== record.heartbeatMs) {
    record.heartbeatMovedMs = Math.max(previousAnswerMs, Math.min(obs.finishedMs, beat));
    record.clockOffsetMs = beat > obs.finishedMs ? beat - obs.finishedMs : beat < previousAnswerMs ? beat - previousAnswerMs : 0;
  }
  record.heartbeatMs = beat;
  record.heartbeatProblem = obs.heartbeatProblem;
  const nodeMs = obs.nodeTimeMs;
  if (nodeMs !== undefined) {
    // The node read its clock while the request was out: within it (and a millisecond, the
    // clocks' resolution, either side) the offset is 0.
    const startedMs = obs.finishedMs - obs.durationMs - 1;
    const finishedMs = obs.finishedMs + 1;
    record.clockOffsetMs = nodeMs > finishedMs ? nodeMs - finishedMs : nodeMs < startedMs ? nodeMs - startedMs : 0;
  }
}
