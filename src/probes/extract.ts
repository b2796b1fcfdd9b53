import type { MapReader } from '../config/reader.js';
import { clip } from './reasons.js';
import type { ProbeResult } from './types.js';

/**
 * Where a fact is read from in an HTTP answer. A string is a JSON path; `{header: NAME}`
 * reads a response header.
 *
 * JSON path syntax: field names joined by dots, list items by `[index]`, and names
 * with dots or spaces in brackets and quotes: `status`, `node.version`,
 * `components[0].heartbeat`, `["key.fingerprint"]`. A leading `$.` is allowed.
 */
export type Source = { readonly json: readonly (string | number)[] } | { readonly header: string };

export interface Extraction {
  readonly status?: { readonly from: Source; readonly healthy: readonly string[] };
  readonly version?: Source;
  readonly keyFingerprint?: Source;
  /** A raw key: hashed on read, never kept. */
  readonly key?: Source;
  readonly heartbeat?: Source;
  readonly os?: Source;
  readonly values: Readonly<Record<string, Source>>;
}

export const DEFAULT_HEALTHY = ['ok', 'up', 'online', 'healthy', 'running', 'pass'];

const SEGMENT = /^(?:\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\["([^"]+)"\])/;

/** Parses a JSON path, or returns undefined when it is not one. */
export function parseJsonPath(path: string): (string | number)[] | undefined {
  let rest = path.startsWith('$') ? path.slice(1) : path;
  const out: (string | number)[] = [];
  while (rest.length > 0) {
    const m = SEGMENT.exec(rest);
    if (!m || (out.length === 0 && rest.startsWith('.') && path[0] !== '$')) return undefined;
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]!));
    rest = rest.slice(m[0].length);
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
    const healthy = (s.scalarList('healthy') ?? DEFAULT_HEALTHY).map((v) => String(v).toLowerCase());
    s.finish();
    status = { from, healthy };
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
  const sources = [e.status?.from, e.version, e.keyFingerprint, e.key, e.heartbeat, e.os, ...Object.values(e.values)];
  return sources.some((s) => s !== undefined && 'json' in s);
}

function lookup(source: Source, body: unknown, headers: Record<string, string | string[] | undefined>): unknown {
  if ('header' in source) {
    const h = headers[source.header];
    return Array.isArray(h) ? h[0] : h;
  }
  let cur: unknown = body;
  for (const seg of source.json) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Reads a heartbeat: ISO 8601 text, or epoch seconds or milliseconds (as number or text). */
export function parseHeartbeat(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : undefined;
  if (n !== undefined) return n > 1e11 ? n : n * 1000;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** Applies an extraction to a parsed answer. Unhealthy status makes the probe fail. */
export function extract(
  e: Extraction,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
  hashKey: (raw: string) => string,
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
  const facts = {
    version: version ? clip(version, 64) : undefined,
    keyHash: key ? hashKey(key) : undefined,
    heartbeatMs: e.heartbeat ? parseHeartbeat(lookup(e.heartbeat, body, headers)) : undefined,
    os: os ? clip(os, 64) : undefined,
    values,
  };
  if (!e.status) return { success: true, ...facts };
  const status = text(lookup(e.status.from, body, headers));
  if (status === undefined) return { success: false, reason: 'bad_body', detail: 'status field missing', ...facts };
  const shown = clip(status, 40);
  if (!e.status.healthy.includes(status.toLowerCase())) {
    return { success: false, reason: 'status_not_ok', detail: `status "${shown}"`, status: shown, ...facts };
  }
  return { success: true, status: shown, ...facts };
}
