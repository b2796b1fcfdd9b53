import { createHash, randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { recordKey } from '../monitor/record.js';
import { KeepAliveBudget } from '../probes/fd-budget.js';
import { probeKinds } from '../probes/registry.js';
import { checkAddress, TemplateError } from '../probes/template.js';
import type { PreparedProbe, ProbeContext } from '../probes/types.js';
import { ConfigError } from './errors.js';
import { keyHash } from './key-hash.js';
import { parseYaml, readConfigText, type MapReader } from './reader.js';
import { readSecret } from './secrets.js';
import type { ClusterConfig, ComponentConfig, Config, Role, ServerConfig } from './types.js';

export const DEFAULTS = {
  heartbeatIntervalMs: 15_000,
  probeTimeoutMs: 5_000,
  staleTimeoutMs: 60_000,
} as const;

/** Node runs no timer longer than 2^31-1 ms (24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ROLES: readonly Role[] = ['active', 'standby'];

// Without a configured secret, key hashes only need to agree within this process.
const processKeySecret = randomBytes(32);

/** Reads and validates a configuration file. Throws ConfigError naming file, line and field. */
export async function loadConfigFile(file: string): Promise<Config> {
  return parseConfig(await readConfigText(file), file);
}

/** Validates configuration text. `file` is used in errors and to resolve relative paths. */
export function parseConfig(text: string, file: string): Config {
  const root = parseYaml(text, file);
  if (!root) throw new ConfigError(file, 1, 1, '', 'the file is empty; it needs "clusters"');
  const baseDir = dirname(resolve(file));
  const probes: PreparedProbe[] = [];
  const keepAlive = new KeepAliveBudget();
  try {
    const clusters = readRoot(root, baseDir, probes, keepAlive);
    const hash = createHash('sha256').update(text).digest('hex');
    const shortfall = keepAlive.shortfall();
    return { file, hash, clusters, warnings: shortfall ? [shortfall] : [], close: () => closeAll(probes) };
  } catch (err) {
    void closeAll(probes);
    throw err;
  }
}

async function closeAll(probes: readonly PreparedProbe[]): Promise<void> {
  await Promise.all(probes.map((p) => p.close()));
}

interface Timing {
  heartbeatIntervalMs: number;
  probeTimeoutMs: number;
  staleTimeoutMs: number;
}

function readTiming(r: MapReader, inherited: Timing): Timing {
  return {
    heartbeatIntervalMs: r.duration('heartbeat_interval', MAX_TIMER_MS) ?? inherited.heartbeatIntervalMs,
    probeTimeoutMs: r.duration('probe_timeout', MAX_TIMER_MS) ?? inherited.probeTimeoutMs,
    staleTimeoutMs: r.duration('stale_timeout') ?? inherited.staleTimeoutMs,
  };
}

function readRoot(root: MapReader, baseDir: string, probes: PreparedProbe[], keepAlive: KeepAliveBudget): ClusterConfig[] {
  const global = root.map('global');
  let timing: Timing = { ...DEFAULTS };
  let secret: string | undefined;
  if (global) {
    timing = readTiming(global, timing);
    secret = readSecret(global, 'key_hash_secret', baseDir);
    global.finish();
  }
  const keySecret = secret ?? processKeySecret;
  const ctx: ProbeContext = {
    baseDir,
    hashKey: (raw) => keyHash(keySecret, raw),
    claimKeepAlive: () => keepAlive.claim(),
  };
  if (!root.has('clusters')) throw root.error(undefined, 'missing required field "clusters"');
  const clusterReaders = root.list('clusters');
  if (clusterReaders.length === 0) throw root.error('clusters', 'must list at least one cluster');
  root.finish();
  const seen = new Set<string>();
  return clusterReaders.map((c) => {
    const cluster = readCluster(c, timing, ctx, probes);
    if (seen.has(cluster.name)) throw c.error('name', `duplicate cluster name "${cluster.name}"`);
    seen.add(cluster.name);
    return cluster;
  });
}


function readName(r: MapReader): string {
  const name = r.requiredString('name');
  if (!NAME.test(name)) throw r.error('name', `"${name}" must start with a letter or digit and hold only letters, digits, _ . -`);
  return name;
}

function readCluster(c: MapReader, inherited: Timing, ctx: ProbeContext, probes: PreparedProbe[]): ClusterConfig {
  const name = readName(c);
  const timing = readTiming(c, inherited);
  checkTimeout(c, timing.probeTimeoutMs, timing.heartbeatIntervalMs, 'probe_timeout');
  const components = new Map<string, ComponentTemplate>();
  const componentReaders = c.list('components');
  if (componentReaders.length === 0) throw c.error(undefined, 'missing required field "components" (at least one)');
  for (const r of componentReaders) {
    const component = readComponent(r, timing, ctx, probes);
    if (components.has(component.name)) throw r.error('name', `duplicate component name "${component.name}"`);
    components.set(component.name, component);
  }
  const serverReaders = c.list('servers');
  if (serverReaders.length === 0) throw c.error(undefined, 'missing required field "servers" (at least one)');
  const names = new Set<string>();
  const servers = serverReaders.map((r) => {
    const server = readServer(r, name, components, timing.heartbeatIntervalMs);
    if (names.has(server.name)) throw r.error('name', `duplicate server name "${server.name}" in cluster "${name}"`);
    names.add(server.name);
    return server;
  });
  const cluster: ClusterConfig = {
    name,
    ...timing,
    loadBalancing: c.boolean('load_balancing') ?? false,
    automaticFailover: c.boolean('automatic_failover') ?? false,
    expectedVersion: c.string('expected_version'),
    servers,
  };
  c.finish();
  return cluster;
}

function checkTimeout(r: MapReader, timeoutMs: number, intervalMs: number, field: string): void {
  if (timeoutMs >= intervalMs) {
    throw r.error(r.has(field) ? field : undefined, `probe_timeout (${timeoutMs}ms) must be below heartbeat_interval (${intervalMs}ms)`);
  }
}

/** A component as the cluster declares it: the template each server's copy is made from. */
interface ComponentTemplate extends Omit<ComponentConfig, 'probe' | 'key'> {
  readonly prepared: PreparedProbe;
}

function readComponent(r: MapReader, timing: Timing, ctx: ProbeContext, probes: PreparedProbe[]): ComponentTemplate {
  const name = readName(r);
  const required = r.boolean('required') ?? true;
  const probeTimeoutMs = r.duration('probe_timeout', MAX_TIMER_MS) ?? timing.probeTimeoutMs;
  checkTimeout(r, probeTimeoutMs, timing.heartbeatIntervalMs, 'probe_timeout');
  const staleTimeoutMs = r.duration('stale_timeout') ?? timing.staleTimeoutMs;
  const probeReader = r.requiredMap('probe');
  const kinds = probeReader.keys();
  if (kinds.length !== 1) {
    throw probeReader.error(undefined, `must hold exactly one probe kind (${Object.keys(probeKinds).join(', ')})`);
  }
  const probeKind = kinds[0]!;
  const kind = probeKinds[probeKind];
  if (!kind) throw probeReader.error(probeKind, `unknown probe kind "${probeKind}"; known: ${Object.keys(probeKinds).join(', ')}`);
  const prepared = kind(probeReader.requiredMap(probeKind), ctx);
  probes.push(prepared);
  probeReader.finish();
  r.finish();
  return { name, required, probeTimeoutMs, staleTimeoutMs, probeKind, prepared };
}

function readServer(r: MapReader, cluster: string, components: Map<string, ComponentTemplate>, intervalMs: number): ServerConfig {
  const name = readName(r);
  const address = r.requiredString('address');
  const badAddress = checkAddress(address);
  if (badAddress) throw r.error('address', badAddress);
  const site = r.string('site') ?? 'primary';
  const role = r.oneOf('role', ROLES) ?? 'active';
  const labels = r.stringMap('labels');
  for (const key of Object.keys(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) throw r.error('labels', `label name "${key}" must match [a-zA-Z_][a-zA-Z0-9_]*`);
  }
  const overrides = r.map('components');
  const own = new Map<string, ComponentTemplate>();
  for (const [cname, t] of components) own.set(cname, t);
  if (overrides) {
    for (const cname of overrides.keys()) {
      const base = own.get(cname);
      if (!base) throw overrides.error(cname, `no component "${cname}" in this cluster; known: ${[...components.keys()].join(', ')}`);
      const o = overrides.map(cname);
      if (!o) continue;
      if (o.boolean('enabled') === false) {
        own.delete(cname);
      } else {
        const probeTimeoutMs = o.duration('probe_timeout', MAX_TIMER_MS) ?? base.probeTimeoutMs;
        checkTimeout(o, probeTimeoutMs, intervalMs, 'probe_timeout');
        own.set(cname, {
          ...base,
          required: o.boolean('required') ?? base.required,
          probeTimeoutMs,
          staleTimeoutMs: o.duration('stale_timeout') ?? base.staleTimeoutMs,
        });
      }
      o.finish();
    }
    overrides.finish();
  }
  r.finish();
  const fields = { name, address, site, role, labels };
  const bound = [...own.values()].map(({ prepared, ...c }): ComponentConfig => {
    let probe;
    try {
      probe = prepared.bind(fields);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      throw r.error(undefined, `server "${name}", component "${c.name}": ${err.message}`);
    }
    return { ...c, key: recordKey(cluster, name, c.name), probe };
  });
  return { ...fields, components: bound };
}
