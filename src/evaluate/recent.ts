import { probeReasons, unknownReasons, type ProbeReason } from '../reasons.js';
import type { ComponentRecord } from './record.js';

/** Probe results kept per component for the status page's strip of recent checks. */
export const RECENT_CHECKS = 20;

/** What one probe found: the component up, up with a stale heartbeat, down, or unknown (credentials refused). */
export type CheckResult = 'up' | 'stale' | 'down' | 'unknown';

/** One entry of the strip, as the JSON API shows it. Times are seconds since the epoch. */
export interface RecentCheck {
  readonly at: number;
  readonly result: CheckResult;
  /** The probe's failure reason when `result` is `down` or `unknown`. */
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
  const reason = probeReasons[code - DOWN] ?? 'error';
  // Unknown is told by its reason: the reason is packed anyway.
  return { at, result: unknownReasons.has(reason) ? 'unknown' : 'down', reason };
}

/**
 * Adds one probe result to the record's ring of the last RECENT_CHECKS results, overwriting
 * the oldest. The ring is replaced, never changed in place: a snapshot holds the array it
 * saw without copying it (one copy of 20 numbers per probe, instead of one per component
 * for every snapshot: 30,000 a second at that size).
 */
export function pushRecent(record: ComponentRecord, result: CheckResult, reason: ProbeReason | undefined, finishedMs: number): void {
  const next = record.recentNext ?? 0;
  // Filled with 0.5 rather than 0 so V8 keeps the array as unboxed doubles from the start.
  const ring = record.recent ? record.recent.slice() : new Array<number>(RECENT_CHECKS).fill(0.5);
  ring[next] = encode(result, reason, finishedMs);
  record.recent = ring;
  record.recentNext = (next + 1) % RECENT_CHECKS;
}

/**
 * A component's recent probe results at one instant, oldest first: the record's ring as it
 * was (rings are replaced, not changed). Serialises to `[{ at, result, reason? }]` for the
 * JSON API; the page iterates over it.
 */
export class RecentChecks implements Iterable<RecentCheck> {
  static readonly none = new RecentChecks([], 0);

  private constructor(
    private readonly ring: readonly number[],
    /** The oldest slot. */
    private readonly start: number,
  ) {}

  static of(record: ComponentRecord | undefined): RecentChecks {
    return record?.recent ? new RecentChecks(record.recent, record.recentNext ?? 0) : RecentChecks.none;
  }

  /** The packed entries in order, empty slots skipped. */
  private *packed(): Generator<number> {
    const n = this.ring.length;
    for (let k = 0; k < n; k++) {
      const p = this.ring[(this.start + k) % n]!;
      if (p >= CODES) yield p;
    }
  }

  get length(): number {
    let n = 0;
    for (const p of this.ring) if (p >= CODES) n++;
    return n;
  }

  *[Symbol.iterator](): Iterator<RecentCheck> {
    for (const p of this.packed()) yield decode(p);
  }

  toJSON(): RecentCheck[] {
    return [...this];
  }
}
