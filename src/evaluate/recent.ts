import { probeReasons, type ProbeReason } from '../reasons.js';
import type { ComponentRecord } from './record.js';

/** Probe results kept per component for the status page's strip of recent checks. */
export const RECENT_CHECKS = 20;

/** What one probe found: the component up, up with a stale heartbeat, or down. */
export type CheckResult = 'up' | 'stale' | 'down';

/** One entry of the strip, as the JSON API shows it. Times are seconds since the epoch. */
export interface RecentCheck {
  readonly at: number;
  readonly result: CheckResult;
  /** The probe's failure reason when `result` is `down`. */
  readonly reason?: ProbeReason;
}

// One number per entry, so a ring is one small array of doubles and never an object per
// probe (a later issue measures memory at 30,000 components): the probe's finish time in
// whole ms times CODES, plus a code. ms * 64 stays below 2^53 until the year 6400.
const CODES = 64;
const UP = 1;
const STALE = 2;
const DOWN = 3; // DOWN + index of the reason in probeReasons

function encode(result: CheckResult, reason: ProbeReason | undefined, finishedMs: number): number {
  const code = result === 'up' ? UP : result === 'stale' ? STALE : DOWN + Math.max(0, probeReasons.indexOf(reason ?? 'error'));
  return Math.round(finishedMs) * CODES + code;
}

function decode(packed: number): RecentCheck {
  const code = packed % CODES;
  const at = (packed - code) / CODES / 1000;
  if (code === UP) return { at, result: 'up' };
  if (code === STALE) return { at, result: 'stale' };
  return { at, result: 'down', reason: probeReasons[code - DOWN] ?? 'error' };
}

/**
 * Adds one probe result to the record's ring of the last RECENT_CHECKS results, overwriting
 * the oldest. The ring is allocated on the first result, at its full size.
 */
export function pushRecent(record: ComponentRecord, result: CheckResult, reason: ProbeReason | undefined, finishedMs: number): void {
  let ring = record.recent;
  if (!ring) {
    // Filled with 0.5 rather than 0 so V8 keeps the array as unboxed doubles from the start.
    ring = record.recent = new Array<number>(RECENT_CHECKS).fill(0.5);
    record.recentNext = 0;
  }
  const next = record.recentNext ?? 0;
  ring[next] = encode(result, reason, finishedMs);
  record.recentNext = (next + 1) % RECENT_CHECKS;
}

/**
 * A component's recent probe results at one instant, oldest first: an immutable copy of its
 * ring, held by the snapshot. Serialises to `[{ at, result, reason? }]` for the JSON API;
 * the page iterates over it.
 */
export class RecentChecks implements Iterable<RecentCheck> {
  static readonly none = new RecentChecks([]);

  private constructor(private readonly packed: readonly number[]) {}

  /** The record's ring, oldest first. */
  static of(record: ComponentRecord | undefined): RecentChecks {
    const ring = record?.recent;
    if (!ring) return RecentChecks.none;
    const next = record.recentNext ?? 0;
    const ordered = next === 0 ? ring.slice() : ring.slice(next).concat(ring.slice(0, next));
    return new RecentChecks(ordered.filter((p) => p >= CODES));
  }

  get length(): number {
    return this.packed.length;
  }

  *[Symbol.iterator](): Iterator<RecentCheck> {
    for (const p of this.packed) yield decode(p);
  }

  toJSON(): RecentCheck[] {
    return this.packed.map(decode);
  }
}
