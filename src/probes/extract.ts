import type { Reading, Source } from '../config/types.js';
import { clip } from './reasons.js';
import type { Answer, ProbeResult } from './types.js';

function lookup(source: Source, body: unknown, headers: Record<string, string | string[] | undefined>): unknown {
  if ('header' in source) {
    const h = headers[source.header];
    return Array.isArray(h) ? h[0] : h;
  }
  let cur: unknown = body;
  for (const seg of source.json) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return undefined;
      cur = cur[seg] as unknown;
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}

/**
 * Why `source` found nothing in the answer: `missing`, or the error the on-node agent
 * reports for the fact on its path (docs/agent.md, "The facts document": a fact it cannot
 * read is `{ "ok": false, "error": "not_found", "detail": ... }`), e.g.
 * `agent error not_found (cannot read the file: ENOENT)`. The agent's words are its closed
 * set and its own short detail, clipped.
 */
function whyMissing(source: Source, body: unknown): string {
  if (!('json' in source)) return 'missing';
  let cur: unknown = body;
  for (const seg of source.json) {
    if (cur === null || typeof cur !== 'object') break;
    const { ok, error, detail } = cur as { ok?: unknown; error?: unknown; detail?: unknown };
    if (ok === false && typeof error === 'string') return `agent error ${clip(error, 40)}${typeof detail === 'string' ? ` (${clip(detail, 80)})` : ''}`;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return 'missing';
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** The earliest heartbeat taken as real: anything older is a zeroed or unset clock. */
const HEARTBEAT_FLOOR_MS = Date.UTC(2000, 0, 1);
/** How far past the probe time a heartbeat may lie (clock skew) before it is refused. */
const HEARTBEAT_LEAD_MS = 86_400_000;
/**
 * Epoch numbers from this magnitude up are milliseconds, below it seconds. 1e11 s is the
 * year 5138 and 1e11 ms is 1973-03-03, both outside the accepted range, so no valid
 * heartbeat is ambiguous.
 */
export const EPOCH_MS_FROM = 1e11;

const EPOCH_TEXT = /^-?\d+(?:\.\d+)?$/;
/**
 * RFC 3339 date-time (section 5.6), also with a space for `T` and, as ISO 8601 allows, an
 * offset without its colon or no offset at all. Fields are range-checked separately.
 */
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Milliseconds since the epoch of a DATE_TIME text; undefined when a field is out of range. */
function dateTimeMs(m: RegExpExecArray): number | undefined {
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : DAYS[month - 1];
  // Second 60 is a leap second (RFC 3339 5.7); Date.UTC carries it into the next minute.
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 60) return undefined;
  const offsetHours = Number(m[10] ?? 0);
  const offsetMinutes = Number(m[11] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const ms = Number((m[7] ?? '').slice(0, 3).padEnd(3, '0'));
  const sign = m[9] === '-' ? -1 : 1;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
}

/** A reported heartbeat: its time, or why the answer holds no valid one (bounded server text). */
export type Heartbeat = { readonly ms: number } | { readonly problem: string };

/**
 * Reads a heartbeat the way docs/configuration.md, "Heartbeat timestamps", states: an RFC 3339 / ISO 8601
 * date-time (no offset means UTC; the local time zone never counts), or epoch seconds or
 * milliseconds (see EPOCH_MS_FROM) as a JSON number or a numeric text. Surrounding spaces
 * are ignored. Anything else, and any instant before 2000-01-01T00:00:00Z or more than a
 * day after `probeMs`, is a problem, not a time.
 */
export function parseHeartbeat(v: unknown, probeMs: number): Heartbeat {
  if (v === undefined) return { problem: 'heartbeat missing' };
  const raw = text(v);
  if (raw === undefined) return { problem: `heartbeat is ${v === null ? 'null' : Array.isArray(v) ? 'a list' : 'an object'}, not a timestamp` };
  const shown = `heartbeat "${clip(raw, 40)}"`;
  const t = raw.trim();
  let ms: number | undefined;
  if (typeof v === 'number' || EPOCH_TEXT.test(t)) {
    const n = Number(t);
    ms = Math.round(Math.abs(n) >= EPOCH_MS_FROM ? n : n * 1000);
  } else {
    const m = DATE_TIME.exec(t);
    ms = m ? dateTimeMs(m) : undefined;
  }
  if (ms === undefined || !Number.isFinite(ms)) return { problem: `${shown} is not a timestamp` };
  if (ms < HEARTBEAT_FLOOR_MS) return { problem: `${shown} is before 2000-01-01` };
  if (ms > probeMs + HEARTBEAT_LEAD_MS) return { problem: `${shown} is more than a day ahead of the probe` };
  return { ms };
}

/** Shared by every answer without values or facts: frozen, as answers are never changed. */
const NO_VALUES: Readonly<Record<string, number>> = Object.freeze({});
const NO_FACTS: Readonly<Record<string, string>> = Object.freeze({});

/** Most strings `intern` keeps. */
const INTERNED_MAX = 4096;
const interned = new Map<string, string>();

/**
 * One copy of each text that answers repeat: every server of a cluster reports the same
 * version, OS, key hash and role, and each component keeps the text of its last answer
 * (copies of one OS name add up at 30,000 components; bench/RESULTS.md). At most INTERNED_MAX texts are kept,
 * each at most 64 characters (what `read` keeps of any): once full, texts are kept as
 * they come, so a server that reports a new text every time costs nothing more.
 */
export function intern(text: string): string {
  const known = interned.get(text);
  if (known !== undefined) return known;
  if (interned.size < INTERNED_MAX) interned.set(text, text);
  return text;
}

/** The most value problems kept per component: the API shows them, bounded. */
const MAX_PROBLEMS = 8;

/**
 * What one component reads from its endpoint's answer, read at `nowMs`. A failed answer
 * fails every component that reads it, with the answer's reason. An unhealthy status fails
 * the component, with the answer's reason for it (when configured) in the detail. The
 * certificate's expiry passes through, failed answer or not. Values
 * that are not numbers and facts that are not text are `problems`, never silence.
 */
export function read(r: Reading, answer: Answer, hashKey: (raw: string) => string, nowMs = Date.now()): ProbeResult {
  const cert = answer.certNotAfterMs === undefined ? undefined : { certNotAfterMs: answer.certNotAfterMs };
  if (!answer.success) return { success: false, reason: answer.reason, ...(answer.detail ? { detail: answer.detail } : {}), ...cert };
  const body = answer.body;
  const headers = answer.headers ?? {};
  const problems: string[] = [];
  const values: Record<string, number> = {};
  let valuesFound = 0;
  for (const [name, src] of Object.entries(r.values)) {
    const raw = lookup(src, body, headers);
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (Number.isFinite(n)) {
      values[name] = n;
      valuesFound++;
    }
    else if (problems.length < MAX_PROBLEMS) problems.push(raw === undefined ? `value ${name}: ${whyMissing(src, body)}` : `value ${name}: ${describe(raw)} is not a number`);
  }
  const facts: Record<string, string> = {};
  let factsFound = 0;
  for (const [name, src] of Object.entries(r.facts)) {
    const raw = 'equal' in src ? same(src.equal, body, headers) : text(lookup(src, body, headers));
    if (raw !== undefined) {
      facts[name] = intern(clip(raw.trim(), 64));
      factsFound++;
    }
    else if (problems.length < MAX_PROBLEMS) problems.push(`fact ${name}: ${'equal' in src ? 'missing' : whyMissing(src, body)}`);
  }
  // A fact the answer does not hold is unknown, and said so: never an older value (record.ts, observe()).
  const fact = (name: string, src: Source | undefined): string | undefined => {
    if (!src) return undefined;
    const v = text(lookup(src, body, headers));
    if ((v === undefined || v === '') && problems.length < MAX_PROBLEMS) problems.push(`${name}: ${v === '' ? 'empty' : whyMissing(src, body)}`);
    return v;
  };
  const key = fact('key', r.key ?? r.keyFingerprint);
  const version = fact('version', r.version);
  const os = fact('os', r.os);
  const heartbeat = r.heartbeat ? parseHeartbeat(lookup(r.heartbeat, body, headers), nowMs) : undefined;
  // The node's clock reads like a heartbeat, and is refused on the same grounds.
  const clock = r.clock ? parseHeartbeat(lookup(r.clock, body, headers), nowMs) : undefined;
  if (clock && 'problem' in clock && problems.length < MAX_PROBLEMS) problems.push(`clock: ${clock.problem.replace(/^heartbeat/, 'time')}`);
  const found = {
    version: version ? intern(clip(version, 64)) : undefined,
    keyHash: key ? intern(hashKey(key)) : undefined,
    heartbeatMs: heartbeat && 'ms' in heartbeat ? heartbeat.ms : undefined,
    heartbeatProblem: heartbeat && 'problem' in heartbeat ? heartbeat.problem : undefined,
    os: os ? intern(clip(os, 64)) : undefined,
    nodeTimeMs: clock && 'ms' in clock ? clock.ms : undefined,
    values: valuesFound > 0 ? values : NO_VALUES,
    facts: factsFound > 0 ? facts : NO_FACTS,
    ...(problems.length > 0 ? { problems } : {}),
    ...cert,
  };
  if (!r.status) return { success: true, ...found };
  const status = text(lookup(r.status.from, body, headers));
  if (status === undefined) return { success: false, reason: 'bad_body', detail: 'status field missing', ...found };
  const shown = clip(status, 40);
  if (!healthy(r.status, status)) {
    const why = r.status.reason && text(lookup(r.status.reason, body, headers))?.trim();
    const detail = why ? `status "${shown}": ${clip(why, 120)}` : `status "${shown}"`;
    return { success: false, reason: 'status_not_ok', detail, status: shown, ...found };
  }
  return { success: true, status: shown, ...found };
}

/** "true" when both places hold the same text, "false" when they differ; undefined when either is missing. */
function same(places: readonly [Source, Source], body: unknown, headers: Record<string, string | string[] | undefined>): string | undefined {
  const [a, b] = places.map((p) => text(lookup(p, body, headers)));
  return a === undefined || b === undefined ? undefined : String(a === b);
}

/** Status text a pattern is tried on, at most: a configured expression never runs over a whole body. */
const PATTERN_INPUT = 1024;

function healthy(rule: NonNullable<Reading['status']>, status: string): boolean {
  const v = status.trim().toLowerCase();
  if (rule.match === 'pattern') return rule.pattern!.test(v.slice(0, PATTERN_INPUT));
  return rule.match === 'contains' ? rule.healthy.some((h) => v.includes(h)) : rule.healthy.includes(v);
}

/** Server text in a problem: JSON-quoted and clipped. */
function describe(v: unknown): string {
  return clip(typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v)), 40);
}
