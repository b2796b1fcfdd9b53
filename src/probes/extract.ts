import type { MapReader } from '../config/reader.js';
import { clip } from './reasons.js';
import type { ProbeResult } from './types.js';

/**
 * Where a fact is read from in an HTTP answer. A string is a JSON path; `{header: NAME}`
 * reads a response header.
 *
 * JSON path grammar; `json` holds the parsed steps, a name as a string, an index as a number:
 *
 * ```
 * path   = "$" step { step }  |  first { step }
 * first  = name | index | quoted
 * step   = "." name | index | quoted
 * name   = ( A-Z | a-z | "_" ) { A-Z | a-z | 0-9 | "_" | "-" }
 * index  = "[" 0-9 { 0-9 } "]"            a list item, counted from 0
 * quoted = "[" JSON string literal "]"     any name: ["a.b"], ["it's"], ["say \"hi\""], ["0"]
 * ```
 *
 * An index matches only an element of a list and a name only an own key of an object, so
 * `data[0]` finds nothing in `{"data":{"0":"x"}}` (that key is `data["0"]`), and `length`
 * or `constructor` are never read off a list, a string or a prototype.
 */
export type Source = { readonly json: readonly (string | number)[] } | { readonly header: string };

export interface Extraction {
  /**
   * The component's status, healthy when it equals one of `healthy` after trimming and
   * ignoring case (`healthy` is held trimmed and lower-cased). `reason`, when set, names
   * where the answer explains an unhealthy status (etcd's `/health` sends `reason`).
   */
  readonly status?: { readonly from: Source; readonly healthy: readonly string[]; readonly reason?: Source };
  readonly version?: Source;
  readonly keyFingerprint?: Source;
  /** A raw key: hashed on read, never kept. */
  readonly key?: Source;
  readonly heartbeat?: Source;
  readonly os?: Source;
  readonly values: Readonly<Record<string, Source>>;
}

export const DEFAULT_HEALTHY = ['ok', 'up', 'online', 'healthy', 'running', 'pass'];

const JSON_STRING = String.raw`"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}))*"`;
const FIRST = new RegExp(String.raw`^(?:([A-Za-z_][\w-]*)|\[(\d+)\]|\[(${JSON_STRING})\])`);
const STEP = new RegExp(String.raw`^(?:\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[(${JSON_STRING})\])`);

/** Parses a JSON path (grammar at {@link Source}), or returns undefined when it is not one. */
export function parseJsonPath(path: string): (string | number)[] | undefined {
  let rest = path.startsWith('$') ? path.slice(1) : path;
  let pattern = path.startsWith('$') ? STEP : FIRST;
  const out: (string | number)[] = [];
  while (rest.length > 0) {
    const m = pattern.exec(rest);
    if (!m) return undefined;
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
    rest = rest.slice(m[0].length);
    pattern = STEP;
  }
  return out.length > 0 ? out : undefined;
}

function parseSource(r: MapReader, key: string): Source | undefined {
  if (!r.has(key)) return undefined;
  if (r.isMapping(key)) {
    const m = r.map(key)!;
    const header = m.requiredString('header');
    m.finish();
    return { header: header.toLowerCase() };
  }
  const text = r.requiredString(key);
  const json = parseJsonPath(text);
  if (!json) throw r.error(key, `"${text}" is not a JSON path (examples: status, node.version, items[0].os, ["key.id"])`);
  return { json };
}

export function parseExtraction(r: MapReader | undefined): Extraction {
  if (!r) return { values: {} };
  let status: Extraction['status'];
  if (r.isMapping('status')) {
    const s = r.map('status')!;
    const from = parseSource(s, 'json') ?? (s.has('header') ? { header: s.requiredString('header').toLowerCase() } : undefined);
    if (!from) throw s.error(undefined, 'needs "json" (a JSON path) or "header"');
    // A YAML `true` or `200` in the list compares as the text a server would send.
    const healthy = (s.textList('healthy') ?? DEFAULT_HEALTHY).map((v) => v.trim().toLowerCase());
    const reason = parseSource(s, 'reason');
    s.finish();
    status = { from, healthy, reason };
  } else {
    const from = parseSource(r, 'status');
    if (from) status = { from, healthy: DEFAULT_HEALTHY };
  }
  const values: Record<string, Source> = {};
  const v = r.map('values');
  if (v) {
    for (const name of v.keys()) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw v.error(name, 'value names must match [a-zA-Z_][a-zA-Z0-9_]*');
      values[name] = parseSource(v, name)!;
    }
    v.finish();
  }
  const out: Extraction = {
    status,
    version: parseSource(r, 'version'),
    keyFingerprint: parseSource(r, 'key_fingerprint'),
    key: parseSource(r, 'key'),
    heartbeat: parseSource(r, 'heartbeat'),
    os: parseSource(r, 'os'),
    values,
  };
  if (out.key && out.keyFingerprint) throw r.error('key', 'set either "key" or "key_fingerprint", not both');
  r.finish();
  return out;
}

export function needsJson(e: Extraction): boolean {
  const sources = [e.status?.from, e.status?.reason, e.version, e.keyFingerprint, e.key, e.heartbeat, e.os, ...Object.values(e.values)];
  return sources.some((s) => s !== undefined && 'json' in s);
}

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
 * Reads a heartbeat the way README's "Heartbeat timestamps" states: an RFC 3339 / ISO 8601
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

/**
 * Applies an extraction to a parsed answer read at `nowMs`. Unhealthy status makes the
 * probe fail, with the answer's reason (when configured) in the detail.
 */
export function extract(
  e: Extraction,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
  hashKey: (raw: string) => string,
  nowMs = Date.now(),
): ProbeResult {
  const values: Record<string, number> = {};
  for (const [name, src] of Object.entries(e.values)) {
    const raw = lookup(src, body, headers);
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
    if (Number.isFinite(n)) values[name] = n;
  }
  const keySource = e.key ?? e.keyFingerprint;
  const key = keySource && text(lookup(keySource, body, headers));
  const version = e.version && text(lookup(e.version, body, headers));
  const os = e.os && text(lookup(e.os, body, headers));
  const heartbeat = e.heartbeat ? parseHeartbeat(lookup(e.heartbeat, body, headers), nowMs) : undefined;
  const facts = {
    version: version ? clip(version, 64) : undefined,
    keyHash: key ? hashKey(key) : undefined,
    heartbeatMs: heartbeat && 'ms' in heartbeat ? heartbeat.ms : undefined,
    heartbeatProblem: heartbeat && 'problem' in heartbeat ? heartbeat.problem : undefined,
    os: os ? clip(os, 64) : undefined,
    values,
  };
  if (!e.status) return { success: true, ...facts };
  const status = text(lookup(e.status.from, body, headers));
  if (status === undefined) return { success: false, reason: 'bad_body', detail: 'status field missing', ...facts };
  const shown = clip(status, 40);
  if (!e.status.healthy.includes(status.trim().toLowerCase())) {
    const why = e.status.reason && text(lookup(e.status.reason, body, headers))?.trim();
    const detail = why ? `status "${shown}": ${clip(why, 120)}` : `status "${shown}"`;
    return { success: false, reason: 'status_not_ok', detail, status: shown, ...facts };
  }
  return { success: true, status: shown, ...facts };
}
