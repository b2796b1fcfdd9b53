import { answeredReasons } from '../reasons.js';
import type { ClusterConfig, ComponentConfig, Config, ServerConfig } from '../config/types.js';
import type { ComponentRecord } from './record.js';
import type { ClusterStatus, ComponentStatus, ExpectationStatus, ServerStatus, Snapshot } from './snapshot.js';

export type Records = ReadonlyMap<string, ComponentRecord>;

const versionOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/**
 * The most common value; ties go to the highest version (numeric-aware), so servers still
 * on the older release are the ones reported out of sync.
 */
export function majority(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: string | undefined;
  let bestCount = 0;
  for (const [v, n] of counts) {
    if (n > bestCount || (n === bestCount && best !== undefined && versionOrder.compare(v, best) > 0)) {
      best = v;
      bestCount = n;
    }
  }
  return best;
}

/** Pure judgement: configuration and observations at `nowMs` make a snapshot. */
export function evaluate(config: Config, records: Records, nowMs: number): Snapshot {
  return { generatedAt: nowMs / 1000, clusters: config.clusters.map((c) => evaluateCluster(c, records, nowMs)) };
}

function evaluateCluster(cluster: ClusterConfig, records: Records, nowMs: number): ClusterStatus {
  // Each component's record, looked up once: by server, in the order of its components.
  const recs = cluster.servers.map((s) => s.components.map((c) => records.get(c.key)));
  const versions = new Map<string, string[]>();
  const keys: string[] = [];
  cluster.servers.forEach((s, i) => {
    s.components.forEach((c, j) => {
      const r = recs[i]![j];
      if (r?.version !== undefined) {
        const list = versions.get(c.name);
        if (list) list.push(r.version);
        else versions.set(c.name, [r.version]);
      }
      if (r?.keyHash !== undefined) keys.push(r.keyHash);
    });
  });
  // Every server's copy of a component shares the cluster's declaration, so its expected version.
  const expected = new Map<string, string>();
  for (const s of cluster.servers) for (const c of s.components) if (c.expectedVersion !== undefined) expected.set(c.name, c.expectedVersion);
  const referenceVersions: Record<string, string> = {};
  for (const [name, list] of versions) referenceVersions[name] = expected.get(name) ?? majority(list)!;
  const referenceKey = majority(keys);

  const servers = cluster.servers.map((s, i) => evaluateServer(s, recs[i]!, nowMs, referenceVersions, referenceKey));
  return {
    name: cluster.name,
    heartbeatIntervalSeconds: cluster.heartbeatIntervalMs / 1000,
    probeTimeoutSeconds: cluster.probeTimeoutMs / 1000,
    staleTimeoutSeconds: cluster.staleTimeoutMs / 1000,
    loadBalancing: cluster.loadBalancing,
    automaticFailover: cluster.automaticFailover,
    expectedVersion: cluster.expectedVersion ?? null,
    referenceVersions,
    keyFingerprints: new Set(keys).size,
    serversTotal: servers.length,
    serversOnline: servers.filter((s) => s.state === 'online').length,
    expectations: judgeExpectations(cluster, recs, servers),
    servers,
  };
}

/**
 * The cluster's expectations: at least `min_servers_online` active servers online (standby
 * servers of a disaster-recovery site do not count), and between min and max servers whose
 * up component reports a fact with one of the expected values (exactly one primary).
 * `met` is null while some server has not been judged yet.
 */
function judgeExpectations(
  cluster: ClusterConfig,
  recs: readonly (readonly (ComponentRecord | undefined)[])[],
  servers: readonly ServerStatus[],
): ExpectationStatus[] {
  const pending = servers.some((s) => s.state === 'pending');
  const out: ExpectationStatus[] = [];
  if (cluster.minServersOnline !== undefined) {
    const active = servers.filter((s) => s.role === 'active');
    const online = active.filter((s) => s.state === 'online').map((s) => s.name);
    const min = cluster.minServersOnline;
    out.push({
      name: 'min_servers_online',
      servers: online.length,
      min,
      max: null,
      met: pending ? null : online.length >= min,
      matching: online,
      summary: `${online.length} of ${active.length} active servers online, minimum ${min}`,
    });
  }
  for (const e of cluster.factExpectations) {
    const matching = cluster.servers
      .filter((s, i) =>
        s.components.some((_, j) => {
          const r = recs[i]![j];
          const value = r?.last?.success ? r.facts?.[e.fact] : undefined;
          return value !== undefined && e.values.includes(value.trim().toLowerCase());
        }),
      )
      .map((s) => s.name);
    const n = matching.length;
    const met = (e.min === undefined || n >= e.min) && (e.max === undefined || n <= e.max);
    const range = e.min === e.max ? `exactly ${e.min}` : [e.min !== undefined ? `at least ${e.min}` : '', e.max !== undefined ? `at most ${e.max}` : ''].filter(Boolean).join(' and ');
    out.push({
      name: e.name,
      servers: n,
      min: e.min ?? null,
      max: e.max ?? null,
      met: pending ? null : met,
      matching,
      summary: `${n} ${n === 1 ? 'server' : 'servers'} with ${e.fact} ${e.values.join(' or ')}${n > 0 ? ` (${matching.join(', ')})` : ''}, expected ${range}`,
    });
  }
  return out;
}

function evaluateServer(
  s: ServerConfig,
  recs: readonly (ComponentRecord | undefined)[],
  nowMs: number,
  referenceVersions: Readonly<Record<string, string>>,
  referenceKey: string | undefined,
): ServerStatus {
  const { state, reason } = judgeServer(s, recs, nowMs);
  return {
    name: s.name,
    address: s.address,
    site: s.site,
    role: s.role,
    labels: s.labels,
    os: recs.find((r) => r?.os !== undefined)?.os ?? null,
    state,
    reason,
    components: s.components.map((c, i) => evaluateComponent(c, recs[i], nowMs, referenceVersions[c.name], referenceKey)),
  };
}

function evaluateComponent(
  c: ComponentConfig,
  r: ComponentRecord | undefined,
  nowMs: number,
  referenceVersion: string | undefined,
  referenceKey: string | undefined,
): ComponentStatus {
  const last = r?.last;
  const heartbeatMs = r?.heartbeatMs ?? r?.lastSuccessMs;
  const ageMs = heartbeatMs === undefined ? null : Math.max(0, nowMs - heartbeatMs);
  const ageSeconds = ageMs === null ? null : ageMs / 1000;
  const stale = ageMs === null || ageMs > c.staleTimeoutMs;
  const up = last ? last.success : null;
  const state = up === null ? 'pending' : !up ? 'down' : stale ? 'stale' : 'up';
  return {
    name: c.name,
    required: c.required,
    state,
    up,
    reason: last?.success === false ? (last.reason ?? 'error') : null,
    detail: last?.success === false ? (last.detail ?? null) : null,
    status: last?.status ?? null,
    version: r?.version ?? null,
    versionInSync: r?.version === undefined || referenceVersion === undefined ? null : r.version === referenceVersion,
    keyInSync: r?.keyHash === undefined || referenceKey === undefined ? null : r.keyHash === referenceKey,
    lastHeartbeat: heartbeatMs === undefined ? null : heartbeatMs / 1000,
    heartbeatProblem: r?.heartbeatProblem ?? null,
    heartbeatAgeSeconds: ageSeconds,
    staleTimeoutSeconds: c.staleTimeoutMs / 1000,
    stale: up !== null && stale,
    lastProbe: last ? last.finishedMs / 1000 : null,
    probeDurationSeconds: last ? last.durationMs / 1000 : null,
    failures: { ...r?.failures },
    values: { ...last?.values },
    facts: { ...r?.facts },
    problems: last?.problems ?? [],
  };
}

/**
 * A server's online state and its reason. Online: every component probed at least once,
 * some component answered, and every required component up with a fresh heartbeat.
 * "Answered" includes an unhealthy answer (`answeredReasons`): `unreachable (...)` is the
 * reason only when no component got any answer at all. Used
 * by evaluate() and, every second over every server, by the transition log: it allocates
 * nothing per component.
 */
export function judgeServer(
  s: ServerConfig,
  /** The records of `s.components`, in the same order. */
  recs: readonly (ComponentRecord | undefined)[],
  nowMs: number,
): { state: ServerStatus['state']; reason: string | null; changesAt: number } {
  let answered = false;
  // Without new probes the judgement holds until a required heartbeat goes stale.
  let changesAt = Infinity;
  let failing: string | null = null;
  let first: string | null = null;
  for (let i = 0; i < s.components.length; i++) {
    const c = s.components[i]!;
    const r = recs[i];
    const last = r?.last;
    if (!last) return { state: 'pending', reason: null, changesAt };
    const reason = last.success ? null : (last.reason ?? 'error');
    if (first === null) first = `${c.name}: ${reason ?? 'down'}`;
    if (last.success || answeredReasons.has(last.reason ?? 'error')) answered = true;
    if (!c.required || failing !== null) continue;
    if (!last.success) {
      failing = `${c.name}: ${reason}`;
      continue;
    }
    const heartbeatMs = r.heartbeatMs ?? r.lastSuccessMs;
    if (heartbeatMs === undefined || Math.max(0, nowMs - heartbeatMs) > c.staleTimeoutMs) failing = `${c.name}: stale`;
    else changesAt = Math.min(changesAt, heartbeatMs + c.staleTimeoutMs + 1);
  }
  if (s.components.length === 0) return { state: 'offline', reason: 'no components', changesAt };
  if (!answered) return { state: 'offline', reason: `unreachable (${first})`, changesAt };
  return failing === null ? { state: 'online', reason: null, changesAt } : { state: 'offline', reason: failing, changesAt };
}
