import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { Broken, ConfigError, Problems } from './errors.js';
import { applyPresets } from './preset.js';
import { configSchema, unknownField, type ClusterSettings, type ComponentSettings, type HttpSettings, type TlsSettings } from './schema.js';
import { readSecretRef, Secret, SecretRefError } from './secret.js';
import { readTlsFiles } from './tls-files.js';
import { bareHost, checkAddress, checkTemplate, expand, expandUrl, templateFields, TemplateError } from './template.js';
import type {
  ClusterConfig,
  ComponentConfig,
  Config,
  EndpointDef,
  EndpointSettings,
  EndpointTarget,
  FactExpectation,
  Reading,
  ServerConfig,
  ServerEndpoint,
  ServerFields,
  TlsOptions,
} from './types.js';
import { recordKey } from './record-key.js';
import { parseYamlFile, readConfigText, validate, type Path, type YamlFile } from './yaml-schema.js';

export { MAX_TIMER_MS } from './schema.js';

/** The labels of a server without any: one frozen object shared by all. */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The defaults of the timing fields. The probe timeout and the stale timeout fit the
 * heartbeat interval they go with when the user wrote none (see `fitTimeout`, `fitStale`).
 */
export const DEFAULTS = {
  heartbeatIntervalMs: 15_000,
  probeTimeoutMs: 5_000,
  staleTimeoutMs: 60_000,
} as const;

/**
 * The probe timeout: as written, else 5 s or, for an interval of 6.25 s or less, four
 * fifths of the interval, so that `heartbeat_interval: 2s` alone is valid (1.6 s).
 */
function fitTimeout(writtenMs: number | undefined, intervalMs: number): number {
  return writtenMs ?? Math.max(1, Math.min(DEFAULTS.probeTimeoutMs, Math.floor(intervalMs * 0.8)));
}

/**
 * The stale timeout: as written, else 1 minute or, for an interval over 15 s, four
 * intervals, so that a component probed every 2 minutes is not stale between probes.
 */
function fitStale(writtenMs: number | undefined, intervalMs: number): number {
  return writtenMs ?? Math.max(DEFAULTS.staleTimeoutMs, 4 * intervalMs);
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** PostgreSQL's default port (PostgreSQL docs, "Connections and Authentication"). */
const DEFAULT_POSTGRES_PORT = 5432;
/** Whether the server is a primary (false) or a standby (true) by its own account, and its version. */
const DEFAULT_POSTGRES_QUERY = "SELECT pg_is_in_recovery() AS in_recovery, current_setting('server_version') AS server_version";

/**
 * Reads and validates a configuration file.
 * @throws ConfigError naming file, line, column and field.
 */
export async function loadConfigFile(file: string): Promise<Config> {
  return parseConfig(await readConfigText(file), file);
}

/** SHA-256 of a configuration file's text, in hex (`Config.textHash`). */
export function textHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Validates configuration text. `file` is used in errors and to resolve relative paths
 * (secret, CA and certificate files); presets are read from `presetDir` (default: the
 * shipped `presets/`). Every problem is reported at once, each where the user can fix it:
 * the preset's problems, else the schema's, else the rest (a cluster, server, component or
 * endpoint with a problem is checked no further, and what reads it is not blamed again).
 * @throws ConfigError naming file (the configuration's or a preset's), line, column and
 * field; a ConfigErrors, one line each, for more than one.
 */
export function parseConfig(text: string, file: string, opts: { readonly presetDir?: string } = {}): Config {
  const parsed = parseYamlFile(text, file);
  if (parsed.value === undefined) throw new ConfigError(file, 1, 1, '', 'the file is empty; it needs "clusters"');
  const { yaml, presetTexts, warnings } = applyPresets(parsed, opts.presetDir);
  const settings = validate(yaml, configSchema, { unknownField });
  const problems = new Problems();
  const ctx: Ctx = { yaml, baseDir: dirname(resolve(file)), problems };
  const global = settings.global ?? {};
  const timing: Timing = {
    heartbeatIntervalMs: global.heartbeat_interval ?? DEFAULTS.heartbeatIntervalMs,
    ...(global.probe_timeout !== undefined ? { probeTimeoutMs: global.probe_timeout } : {}),
    ...(global.stale_timeout !== undefined ? { staleTimeoutMs: global.stale_timeout } : {}),
  };
  const keyHashSecret = problems.attempt(() => readSecret(ctx, ['global'], global, 'key_hash_secret'));
  const seen = new Set<string>();
  const clusters: ClusterConfig[] = [];
  settings.clusters.forEach((c, i) => {
    if (seen.has(c.name)) return problems.add(yaml.error(['clusters', i, 'name'], `duplicate cluster name "${c.name}"`));
    seen.add(c.name);
    const cluster = problems.attempt(() => readCluster(ctx, ['clusters', i], c, timing));
    if (cluster) clusters.push(cluster);
  });
  problems.done();
  // The presets count as part of the file: a changed preset is a changed configuration.
  const hash = createHash('sha256').update([text, ...presetTexts].join('\u0000')).digest('hex');
  return { file, hash, textHash: textHash(text), ...(keyHashSecret ? { keyHashSecret } : {}), clusters, ...(warnings.length > 0 ? { warnings } : {}) };
}

interface Ctx {
  readonly yaml: YamlFile;
  readonly baseDir: string;
  readonly problems: Problems;
}

/** Timing as inherited: a timeout left undefined was not written, and fits the interval it goes with. */
interface Timing {
  readonly heartbeatIntervalMs: number;
  readonly probeTimeoutMs?: number;
  readonly staleTimeoutMs?: number;
}

function checkTimeout(ctx: Ctx, path: Path, field: string, timeoutMs: number, intervalMs: number, set: boolean): void {
  if (timeoutMs >= intervalMs) {
    throw ctx.yaml.error(set ? [...path, field] : path, `probe_timeout (${timeoutMs}ms) must be below heartbeat_interval (${intervalMs}ms)`);
  }
}

/** A component as the cluster declares it: the template each server's copy is made from. */
interface ComponentTemplate {
  readonly name: string;
  readonly path: Path;
  readonly endpoint: string;
  readonly required: boolean;
  /** As written (the component's, else the cluster's or global); undefined: fits the interval. */
  readonly staleTimeoutMs?: number;
  readonly heartbeatIntervalMs: number;
  readonly expectedVersion?: string;
  readonly read: Reading;
}

interface EndpointTemplate {
  readonly def: EndpointDef;
  readonly path: Path;
  /** As written; undefined: fits the interval of the endpoint on each server (`fitTimeout`). */
  readonly timeoutMs?: number;
  /** A component with a probe of its own: its timeout may be overridden per server. */
  readonly own: boolean;
}

function readCluster(ctx: Ctx, path: Path, c: ClusterSettings, inherited: Timing): ClusterConfig {
  const { problems } = ctx;
  const probeTimeout = c.probe_timeout ?? inherited.probeTimeoutMs;
  const staleTimeout = c.stale_timeout ?? inherited.staleTimeoutMs;
  const timing: Timing = {
    heartbeatIntervalMs: c.heartbeat_interval ?? inherited.heartbeatIntervalMs,
    ...(probeTimeout !== undefined ? { probeTimeoutMs: probeTimeout } : {}),
    ...(staleTimeout !== undefined ? { staleTimeoutMs: staleTimeout } : {}),
  };
  const probeTimeoutMs = fitTimeout(timing.probeTimeoutMs, timing.heartbeatIntervalMs);
  problems.attempt(() => checkTimeout(ctx, path, 'probe_timeout', probeTimeoutMs, timing.heartbeatIntervalMs, c.probe_timeout !== undefined));

  const endpoints = new Map<string, EndpointTemplate>();
  /** Endpoints and components with a problem reported: what reads them is not blamed again. */
  const broken = { endpoints: new Set<string>(), components: new Set<string>() };
  for (const [name, e] of Object.entries(c.endpoints ?? {})) {
    const ePath = [...path, 'endpoints', name];
    const settings = problems.attempt(() => readEndpoint(ctx, ePath, e));
    if (!settings) broken.endpoints.add(name);
    else endpoints.set(name, { def: { name, settings }, path: ePath, ...(e.probe_timeout !== undefined ? { timeoutMs: e.probe_timeout } : probeTimeout !== undefined ? { timeoutMs: probeTimeout } : {}), own: false });
  }

  const components = new Map<string, ComponentTemplate>();
  // The schema lets a cluster with a preset leave components out; the preset supplied them.
  c.components!.forEach((comp, i) => {
    if (comp.enabled === false) return;
    const cPath = [...path, 'components', i];
    if (components.has(comp.name) || broken.components.has(comp.name)) return problems.add(ctx.yaml.error([...cPath, 'name'], `duplicate component name "${comp.name}"`));
    const template = problems.attempt(() => readComponent(ctx, cPath, comp, timing, c.expected_version, endpoints, broken.endpoints));
    if (template) components.set(comp.name, template);
    else broken.components.add(comp.name);
  });

  const serverNames = new Set<string>();
  const servers: ServerConfig[] = [];
  let serversBroken = false;
  c.servers.forEach((s, i) => {
    const sPath = [...path, 'servers', i];
    if (serverNames.has(s.name)) return problems.add(ctx.yaml.error([...sPath, 'name'], `duplicate server name "${s.name}" in cluster "${c.name}"`));
    serverNames.add(s.name);
    const server = problems.attempt(() => readServer(ctx, sPath, c.name, s, components, endpoints, broken));
    if (server) servers.push(server);
    else serversBroken = true;
  });

  const minServersOnline = c.expectations?.min_servers_online;
  const active = c.servers.filter((s) => (s.role ?? 'active') === 'active').length;
  if (minServersOnline !== undefined && minServersOnline > active) {
    problems.add(
      ctx.yaml.error(
        [...path, 'expectations', 'min_servers_online'],
        `${minServersOnline} is more than the cluster's ${active} active servers (standby servers do not count)`,
      ),
    );
  }
  const factNames = new Set([...components.values()].flatMap((t) => Object.keys(t.read.facts)));
  const expectationNames = new Set<string>(minServersOnline !== undefined ? ['min_servers_online'] : []);
  const factExpectations = (c.expectations?.servers_with_fact ?? []).flatMap((e, i): FactExpectation[] => {
    const ePath = [...path, 'expectations', 'servers_with_fact', i];
    const expectation = problems.attempt(() => readFactExpectation(ctx, ePath, e, factNames, broken.components.size > 0, expectationNames, c.servers.length));
    return expectation ? [expectation] : [];
  });
  // A part with a problem is left out above; the problems are thrown by the caller, with the rest of the file's.
  if (serversBroken || broken.endpoints.size > 0 || broken.components.size > 0) throw new Broken();

  return {
    name: c.name,
    heartbeatIntervalMs: timing.heartbeatIntervalMs,
    probeTimeoutMs,
    staleTimeoutMs: fitStale(timing.staleTimeoutMs, timing.heartbeatIntervalMs),
    // Not set stays not set: shown as such, never as off.
    ...(c.load_balancing !== undefined ? { loadBalancing: c.load_balancing } : {}),
    ...(c.automatic_failover !== undefined ? { automaticFailover: c.automatic_failover } : {}),
    ...(c.expected_version !== undefined ? { expectedVersion: c.expected_version } : {}),
    ...(minServersOnline !== undefined ? { minServersOnline } : {}),
    factExpectations,
    endpoints: [...endpoints.values()].map((e) => e.def),
    servers,
  };
}

type FactCount = NonNullable<NonNullable<ClusterSettings['expectations']>['servers_with_fact']>[number];

/** One `servers_with_fact` entry; `unsure` when a component with a problem may be the one that reads the fact. */
function readFactExpectation(ctx: Ctx, ePath: Path, e: FactCount, factNames: ReadonlySet<string>, unsure: boolean, expectationNames: Set<string>, serverCount: number): FactExpectation {
  if (!factNames.has(e.fact)) {
    if (unsure) throw new Broken();
    const known = [...factNames];
    throw ctx.yaml.error([...ePath, 'fact'], `no component reads a fact "${e.fact}"; ${known.length ? `known: ${known.join(', ')}` : 'declare it under a component\'s "facts"'}`);
  }
  const name = e.name ?? e.fact;
  if (expectationNames.has(name)) throw ctx.yaml.error(e.name ? [...ePath, 'name'] : ePath, `duplicate expectation name "${name}"; set "name"`);
  expectationNames.add(name);
  const min = e.count ?? e.min;
  const max = e.count ?? e.max;
  if (min !== undefined && min > serverCount) {
    throw ctx.yaml.error([...ePath, e.count !== undefined ? 'count' : 'min'], `${min} is more than the cluster's ${serverCount} servers`);
  }
  return {
    name,
    fact: e.fact,
    values: e.values.map((v) => v.trim().toLowerCase()),
    ...(min !== undefined ? { min } : {}),
    ...(max !== undefined ? { max } : {}),
  };
}

function readComponent(
  ctx: Ctx,
  path: Path,
  comp: ComponentSettings,
  timing: Timing,
  clusterExpectedVersion: string | undefined,
  endpoints: Map<string, EndpointTemplate>,
  brokenEndpoints: ReadonlySet<string>,
): ComponentTemplate {
  const heartbeatIntervalMs = comp.heartbeat_interval ?? timing.heartbeatIntervalMs;
  let endpoint: string;
  if (comp.probe) {
    endpoint = `~${comp.name}`;
    const timeoutMs = comp.probe_timeout ?? comp.probe.probe_timeout ?? timing.probeTimeoutMs;
    const field = comp.probe_timeout !== undefined ? [...path] : [...path, 'probe'];
    if (timeoutMs !== undefined) checkTimeout(ctx, field, 'probe_timeout', timeoutMs, heartbeatIntervalMs, comp.probe_timeout !== undefined || comp.probe.probe_timeout !== undefined);
    const settings = readEndpoint(ctx, [...path, 'probe'], comp.probe);
    endpoints.set(endpoint, { def: { name: endpoint, settings }, path: [...path, 'probe'], ...(timeoutMs !== undefined ? { timeoutMs } : {}), own: true });
  } else {
    endpoint = comp.endpoint!;
    if (comp.probe_timeout !== undefined) {
      throw ctx.yaml.error([...path, 'probe_timeout'], `a component that reads the shared endpoint "${endpoint}" takes its timeout from the endpoint; set probe_timeout there`);
    }
    if (brokenEndpoints.has(endpoint)) throw new Broken();
    const shared = endpoints.get(endpoint);
    if (!shared || shared.own) {
      const known = [...endpoints.values()].filter((e) => !e.own).map((e) => e.def.name);
      throw ctx.yaml.error([...path, 'endpoint'], `no endpoint "${endpoint}" in this cluster; ${known.length ? `known: ${known.join(', ')}` : 'declare it under the cluster\'s "endpoints"'}`);
    }
  }
  const read: Reading = {
    ...(comp.status ? { status: comp.status } : {}),
    ...(comp.version ? { version: comp.version } : {}),
    ...(comp.key_fingerprint ? { keyFingerprint: comp.key_fingerprint } : {}),
    ...(comp.key ? { key: comp.key } : {}),
    ...(comp.heartbeat ? { heartbeat: comp.heartbeat } : {}),
    ...(comp.os ? { os: comp.os } : {}),
    ...(comp.clock ? { clock: comp.clock } : {}),
    values: comp.values ?? {},
    facts: comp.facts ?? {},
  };
  const settings = endpoints.get(endpoint)!.def.settings;
  if (settings.kind === 'tcp') {
    const reads = ['status', 'version', 'key_fingerprint', 'key', 'heartbeat', 'os', 'clock', 'values', 'facts'].find(
      (f) => comp[f as keyof ComponentSettings] !== undefined,
    );
    if (reads) throw ctx.yaml.error([...path, reads], `reads "${reads}", but its endpoint is a tcp probe, which has no answer to read from`);
  } else if (settings.kind !== 'postgres' && settings.method === 'HEAD' && needsJson(read)) {
    throw ctx.yaml.error(path, 'reads from a JSON body, but its endpoint uses method HEAD, which has no body');
  }
  const expectedVersion = comp.expected_version ?? clusterExpectedVersion;
  const staleTimeoutMs = comp.stale_timeout ?? timing.staleTimeoutMs;
  return {
    name: comp.name,
    path,
    endpoint,
    required: comp.required ?? true,
    ...(staleTimeoutMs !== undefined ? { staleTimeoutMs } : {}),
    heartbeatIntervalMs,
    ...(expectedVersion !== undefined ? { expectedVersion } : {}),
    read,
  };
}

/** Whether reading needs the answer's body parsed as JSON (a header is read without). */
export function needsJson(r: Reading): boolean {
  const facts = Object.values(r.facts).flatMap((f) => ('equal' in f ? f.equal : [f]));
  const sources = [r.status?.from, r.status?.reason, r.version, r.keyFingerprint, r.key, r.heartbeat, r.os, r.clock, ...Object.values(r.values), ...facts];
  return sources.some((s) => s !== undefined && 'json' in s);
}

type EndpointInput = NonNullable<ClusterSettings['endpoints']>[string];

function readEndpoint(ctx: Ctx, path: Path, e: EndpointInput): EndpointSettings {
  if (e.http || e.prometheus) {
    const kind = e.http ? 'http' : 'prometheus';
    // A prometheus endpoint is an http one without a method or body of its own.
    const h: HttpSettings & { url: string } = { ...(e.http ?? e.prometheus)!, url: (e.http ?? e.prometheus)!.url! };
    const hPath = [...path, kind];
    const problem = checkTemplate(h.url);
    if (problem) throw ctx.yaml.error([...hPath, 'url'], problem);
    // The scheme is never a template field; whether the rest makes a URL depends on each
    // server's fields and is checked as each server is read.
    if (!/^https?:\/\/[^/?#]/i.test(h.url)) throw ctx.yaml.error([...hPath, 'url'], `must be an http:// or https:// URL, got "${h.url}"`);
    let authorization: Secret | undefined;
    if (h.basic_auth) {
      // A username without a password gets 401 on every probe: a check that passes it is an all-clear that is not.
      if (h.basic_auth.password_file === undefined && h.basic_auth.password_env === undefined) {
        throw ctx.yaml.error([...hPath, 'basic_auth'], `basic_auth has username "${h.basic_auth.username}" and no password: set password_file or password_env (an empty file for an empty password)`);
      }
      const password = readSecret(ctx, [...hPath, 'basic_auth'], h.basic_auth, 'password')?.reveal() ?? '';
      authorization = new Secret(`Basic ${Buffer.from(`${h.basic_auth.username}:${password}`).toString('base64')}`);
    }
    const token = readSecret(ctx, hPath, h, 'bearer_token');
    if (token) {
      if (authorization) throw ctx.yaml.error([...hPath, h.bearer_token_file !== undefined ? 'bearer_token_file' : 'bearer_token_env'], 'set basic_auth or a bearer token, not both');
      authorization = new Secret(`Bearer ${token.reveal()}`);
    }
    const method = h.method ?? 'GET';
    if (h.body !== undefined && method !== 'POST') throw ctx.yaml.error([...hPath, 'body'], `a request body needs method POST, not ${method}`);
    const origin = /^[a-z]+:\/\/[^/?#]*/i.exec(h.url)?.[0] ?? h.url;
    const common = {
      url: h.url,
      headers: h.headers ?? {},
      ...(authorization ? { authorization } : {}),
      ...(h.tls ? { tls: readTls(ctx, [...hPath, 'tls'], h.tls) } : {}),
      ...(h.valid_status_codes ? { validStatusCodes: h.valid_status_codes } : {}),
      bodySizeLimit: h.body_size_limit ?? DEFAULT_BODY_LIMIT,
      perServerOrigin: templateFields(origin).length > 0,
    };
    if (kind === 'prometheus') return { kind, method: 'GET', ...common };
    return { kind, method, ...common, ...(h.body !== undefined ? { body: h.body } : {}) };
  }
  if (e.postgres) {
    const p = e.postgres;
    const pPath = [...path, 'postgres'];
    const host = p.host ?? '{address}';
    const port = p.port ?? DEFAULT_POSTGRES_PORT;
    for (const [field, value] of [['host', host], ['port', port]] as const) {
      const problem = typeof value === 'string' ? checkTemplate(value) : undefined;
      if (problem) throw ctx.yaml.error([...pPath, field], problem);
    }
    const password = readSecret(ctx, pPath, p, 'password');
    return {
      kind: 'postgres',
      host,
      port,
      database: p.database ?? 'postgres',
      user: p.user!,
      ...(password ? { password } : {}),
      ...(p.tls ? { tls: readTls(ctx, [...pPath, 'tls'], p.tls) } : {}),
      query: p.query ?? DEFAULT_POSTGRES_QUERY,
    };
  }
  const t = e.tcp!;
  const tPath = [...path, 'tcp'];
  const host = t.host ?? '{address}';
  const port = t.port!;
  for (const [field, value] of [['host', host], ['port', port]] as const) {
    const problem = typeof value === 'string' ? checkTemplate(value) : undefined;
    if (problem) throw ctx.yaml.error([...tPath, field], problem);
  }
  return { kind: 'tcp', host, port, ...(t.tls ? { tls: readTls(ctx, [...tPath, 'tls'], t.tls) } : {}) };
}

function readTls(ctx: Ctx, path: Path, t: TlsSettings): TlsOptions {
  return readTlsFiles(t, ctx.baseDir, (field, message) => ctx.yaml.error([...path, field], message));
}

/**
 * Reads secret `name` from `NAME_file` (a path, relative to the config file) or `NAME_env`
 * (an environment variable); an inline `NAME` was refused by the schema.
 * @throws ConfigError when both are set, the file cannot be read or the variable is unset.
 */
function readSecret(ctx: Ctx, path: Path, settings: object, name: string): Secret | undefined {
  const s = settings as Record<string, string | undefined>;
  const file = s[`${name}_file`];
  const env = s[`${name}_env`];
  if (file !== undefined && env !== undefined) throw ctx.yaml.error([...path, `${name}_env`], `set ${name}_file or ${name}_env, not both`);
  try {
    return readSecretRef(file, env, ctx.baseDir);
  } catch (err) {
    if (!(err instanceof SecretRefError)) throw err;
    throw ctx.yaml.error([...path, `${name}_${err.setting}`], err.message);
  }
}

type ServerInput = ClusterSettings['servers'][number];

function readServer(
  ctx: Ctx,
  path: Path,
  cluster: string,
  s: ServerInput,
  components: Map<string, ComponentTemplate>,
  endpoints: Map<string, EndpointTemplate>,
  broken: { readonly endpoints: ReadonlySet<string>; readonly components: ReadonlySet<string> },
): ServerConfig {
  const badAddress = checkAddress(s.address);
  if (badAddress) throw ctx.yaml.error([...path, 'address'], badAddress);
  const fields: ServerFields = { name: s.name, address: s.address, site: s.site ?? 'primary', role: s.role ?? 'active', labels: s.labels ?? NO_LABELS };

  const disabledEndpoints = new Set<string>();
  for (const [name, o] of Object.entries(s.endpoints ?? {})) {
    const shared = endpoints.get(name);
    if (!shared && broken.endpoints.has(name)) continue;
    if (!shared || shared.own) {
      const known = [...endpoints.values()].filter((e) => !e.own).map((e) => e.def.name);
      throw ctx.yaml.error([...path, 'endpoints', name], `no endpoint "${name}" in this cluster; known: ${known.join(', ') || 'none'}`);
    }
    if (o?.enabled === false) disabledEndpoints.add(name);
  }

  const own: ComponentTemplate[] = [];
  const ownTimeouts = new Map<string, { ms: number; path: Path; set: boolean }>();
  const overrides = s.components ?? {};
  for (const name of Object.keys(overrides)) {
    if (!components.has(name) && !broken.components.has(name)) {
      throw ctx.yaml.error([...path, 'components', name], `no component "${name}" in this cluster; known: ${[...components.keys()].join(', ')}`);
    }
  }
  for (const [name, base] of components) {
    const o = overrides[name];
    const oPath = [...path, 'components', name];
    if (o?.enabled === false) continue;
    if (disabledEndpoints.has(base.endpoint)) {
      throw ctx.yaml.error(
        [...path, 'endpoints', base.endpoint],
        `server "${s.name}" does not have endpoint "${base.endpoint}", but component "${name}" reads it; disable the component too`,
      );
    }
    if (o?.probe_timeout !== undefined) {
      if (!endpoints.get(base.endpoint)!.own) {
        throw ctx.yaml.error([...oPath, 'probe_timeout'], `component "${name}" reads the shared endpoint "${base.endpoint}"; its timeout is the endpoint's`);
      }
      ownTimeouts.set(base.endpoint, { ms: o.probe_timeout, path: oPath, set: true });
    }
    const staleTimeoutMs = o?.stale_timeout ?? base.staleTimeoutMs;
    own.push({
      ...base,
      required: o?.required ?? base.required,
      ...(staleTimeoutMs !== undefined ? { staleTimeoutMs } : {}),
      heartbeatIntervalMs: o?.heartbeat_interval ?? base.heartbeatIntervalMs,
    });
  }

  // Each endpoint the server's components read, probed at the shortest of their intervals.
  const readers = new Map<string, ComponentTemplate[]>();
  for (const c of own) readers.set(c.endpoint, [...(readers.get(c.endpoint) ?? []), c]);
  const serverEndpoints: ServerEndpoint[] = [];
  const keys = new Map<string, string>();
  for (const [name, list] of readers) {
    const e = endpoints.get(name)!;
    const intervalMs = Math.min(...list.map((c) => c.heartbeatIntervalMs));
    const timeout = ownTimeouts.get(name) ?? { ms: fitTimeout(e.timeoutMs, intervalMs), path: e.path, set: false };
    if (timeout.ms >= intervalMs) {
      throw ctx.yaml.error(
        timeout.set ? [...timeout.path, 'probe_timeout'] : path,
        `server "${s.name}", endpoint "${e.own ? list[0]!.name : name}": probe_timeout (${timeout.ms}ms) must be below heartbeat_interval (${intervalMs}ms)`,
      );
    }
    let target: EndpointTarget;
    try {
      target = targetFor(e.def, fields);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      throw ctx.yaml.error(path, `server "${s.name}", ${e.own ? `component "${list[0]!.name}"` : `endpoint "${name}"`}: ${err.message}`);
    }
    const key = recordKey(cluster, s.name, name);
    keys.set(name, key);
    serverEndpoints.push({ key, name, def: e.def, target, intervalMs, timeoutMs: timeout.ms, needsJson: list.some((c) => needsJson(c.read)) });
  }

  const bound = own.map(
    (c): ComponentConfig => ({
      name: c.name,
      key: recordKey(cluster, s.name, c.name),
      endpoint: keys.get(c.endpoint)!,
      required: c.required,
      staleTimeoutMs: fitStale(c.staleTimeoutMs, c.heartbeatIntervalMs),
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      ...(c.expectedVersion !== undefined ? { expectedVersion: c.expectedVersion } : {}),
      read: c.read,
    }),
  );
  return { ...fields, components: bound, endpoints: serverEndpoints };
}

/**
 * Fills an endpoint's templates in for one server.
 * @throws TemplateError when they do not make a URL or a host and port.
 */
function targetFor(def: EndpointDef, server: ServerFields): EndpointTarget {
  const e = def.settings;
  if (e.kind === 'http' || e.kind === 'prometheus') {
    const url = expandUrl(e.url, server);
    if (!URL.canParse(url)) throw new TemplateError(`url "${e.url}" gives "${url}", which is not a URL`);
    return { url };
  }
  // Sockets take IPv6 without brackets; the configuration may write either form.
  const host = bareHost(expand(e.host, server));
  const portText = typeof e.port === 'number' ? String(e.port) : expand(e.port, server);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new TemplateError(`port "${e.port}" gives "${portText}", which is not a port number (1-65535)`);
  if (checkAddress(host) !== undefined) throw new TemplateError(`host "${e.host}" gives "${host}", which is not an address or host name`);
  return { host, port };
}
