import { parse } from 'yaml';
import { DEFAULT_HEALTHY } from '../config/schema.js';

/**
 * What a preset reads, in Markdown, from the preset file as written (`presets/NAME.yml`):
 * its components and what each reads from which request, its timing, its parameters and
 * its expectations. Templates stay as written (`{params.base_url}`): the reader sees the
 * file's own words.
 */

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const code = (v: unknown): string => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;
const cell = (text: string): string => text.replace(/\|/g, '\\|');

/** Where a fact is read: a JSON path, a header, or a comparison of two places. */
function place(v: unknown): string {
  if (typeof v === 'string') return code(v);
  if (isObject(v) && typeof v.header === 'string') return `header ${code(v.header)}`;
  if (isObject(v) && Array.isArray(v.equal)) return `${v.equal.map(place).join(' equals ')} ("true" or "false")`;
  return code(v);
}

function status(v: unknown): string {
  if (!isObject(v)) return `status ${place(v)} (healthy: ${DEFAULT_HEALTHY.join(', ')})`;
  const from = v.json !== undefined ? place(v.json) : `header ${code(v.header)}`;
  const rule = Array.isArray(v.contains)
    ? `holds ${v.contains.map(code).join(' or ')}`
    : typeof v.pattern === 'string'
      ? `matches ${code(v.pattern)}`
      : `healthy: ${(Array.isArray(v.healthy) ? v.healthy : DEFAULT_HEALTHY).map(code).join(', ')}`;
  return `status ${from} (${rule}${v.reason !== undefined ? `; reason ${place(v.reason)}` : ''})`;
}

/** One request: the method and URL of an http endpoint, the port of a tcp one, the query of a postgres one. */
function request(e: Json): string {
  if (isObject(e.http)) {
    const h = e.http;
    const parts = [`${typeof h.method === 'string' ? h.method : 'GET'} ${code(h.url)}`];
    if (typeof h.body === 'string') parts.push(`body ${code(h.body)}`);
    if (isObject(h.headers)) parts.push(`headers ${Object.keys(h.headers).map(code).join(', ')}`);
    if (isObject(h.basic_auth)) parts.push('basic auth');
    if (Array.isArray(h.valid_status_codes)) parts.push(`answers ${h.valid_status_codes.join(' and ')} are read`);
    return parts.join(', ');
  }
  if (isObject(e.tcp)) return `TCP connect to port ${code(e.tcp.port)}${e.tcp.tls !== undefined ? ' with TLS' : ''}`;
  if (isObject(e.prometheus)) return `GET ${code(e.prometheus.url)}, a Prometheus text exposition`;
  if (isObject(e.postgres)) {
    const p = e.postgres;
    const query = typeof p.query === 'string' ? code(p.query) : 'the default query (`pg_is_in_recovery()` as `in_recovery`, `server_version`)';
    return `PostgreSQL on port ${code(p.port ?? 5432)} as ${code(p.user)}${p.tls !== undefined ? ' with TLS' : ''}, read-only: ${query}`;
  }
  return 'unknown';
}

/** What a component reads from the answer of its endpoint `e`, field by field. */
function reads(c: Json, e: Json): string {
  const out: string[] = [];
  if (c.status !== undefined) out.push(status(c.status));
  else out.push(isObject(e.tcp) ? 'up when the port accepts the connection' : isObject(e.postgres) ? 'up when the query is answered' : 'up when the request is answered');
  for (const field of ['version', 'key_fingerprint', 'key', 'heartbeat', 'os', 'clock'] as const) {
    if (c[field] !== undefined) out.push(`${field.replace('_', ' ')} ${place(c[field])}`);
  }
  for (const [kind, label] of [['facts', 'fact'], ['values', 'value']] as const) {
    const m = c[kind];
    if (isObject(m)) for (const [name, from] of Object.entries(m)) out.push(`${label} ${code(name)} from ${place(from)}`);
  }
  if (typeof c.stale_timeout === 'string') out.push(`stale after ${c.stale_timeout}`);
  return out.join('; ');
}

/**
 * The generated part of a preset's page in docs/presets/.
 * @param text the preset file's YAML
 */
export function presetReference(text: string): string {
  const preset = parse(text) as Json;
  const endpoints = isObject(preset.endpoints) ? preset.endpoints : {};
  const components = Array.isArray(preset.components) ? preset.components.filter(isObject) : [];
  const out: string[] = [];

  // A timing made of parameters ("{params.ttl}s") is shown as written: the parameters' table says their defaults.
  const shown = (v: string) => (v.includes('{params.') ? `\`${v}\`` : v);
  const timing = [
    typeof preset.heartbeat_interval === 'string' ? `heartbeat interval ${shown(preset.heartbeat_interval)}` : undefined,
    typeof preset.stale_timeout === 'string' ? `stale timeout ${shown(preset.stale_timeout)}` : undefined,
    typeof preset.probe_timeout === 'string' ? `probe timeout ${shown(preset.probe_timeout)}` : undefined,
  ].filter((t) => t !== undefined);
  out.push(
    timing.length > 0
      ? `**Timing:** ${timing.join(', ')} (the preset's; the cluster may set its own).`
      : "**Timing:** the cluster's, else `global`'s (the preset sets none).",
    '',
  );

  out.push('| component | request | required | reads |', '| --- | --- | --- | --- |');
  for (const c of components) {
    const e = typeof c.endpoint === 'string' ? (isObject(endpoints[c.endpoint]) ? (endpoints[c.endpoint] as Json) : {}) : isObject(c.probe) ? c.probe : {};
    const from = typeof c.endpoint === 'string' ? `${code(c.endpoint)}: ${request(e)}` : isObject(c.probe) ? request(c.probe) : 'none';
    const required = c.required === false ? 'no' : 'yes';
    const off = c.enabled === false ? ' **Off until the cluster sets `enabled: true`.**' : '';
    out.push(`| ${code(c.name)} | ${cell(from)} | ${required} | ${cell(reads(c, e))}${off} |`);
  }
  out.push('');

  const parameters = isObject(preset.parameters) ? preset.parameters : {};
  out.push('| parameter | default | description |', '| --- | --- | --- |');
  for (const [name, p] of Object.entries(parameters)) {
    if (!isObject(p)) continue;
    const dflt = p.required === true ? '**required**' : p.default !== undefined ? code(p.default) : 'none';
    out.push(`| ${code(name)} | ${cell(dflt)} | ${cell(String(p.description ?? ''))} |`);
  }
  out.push('');

  const expectations = isObject(preset.expectations) ? preset.expectations : {};
  const facts = Array.isArray(expectations.servers_with_fact) ? expectations.servers_with_fact.filter(isObject) : [];
  const lines: string[] = [];
  if (typeof expectations.min_servers_online === 'number') lines.push(`- at least ${expectations.min_servers_online} active servers online`);
  for (const e of facts) {
    const bound = e.count !== undefined ? `exactly ${String(e.count)}` : [e.min !== undefined ? `at least ${String(e.min)}` : '', e.max !== undefined ? `at most ${String(e.max)}` : ''].filter(Boolean).join(' and ');
    const values = Array.isArray(e.values) ? e.values.map(code).join(' or ') : '';
    lines.push(`- ${code(e.name ?? e.fact)}: servers whose up component says fact ${code(e.fact)} is ${values}: ${bound}`);
  }
  out.push('**Expectations:**', '', ...(lines.length > 0 ? lines : ['- none']));
  return out.join('\n');
}
