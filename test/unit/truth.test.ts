/**
 * Issue 28: what the judgement says is true. Each case is the issue's own, judged the way the
 * monitor judges it (Transitions folds results into records and logs what changed; evaluate()
 * and the /metrics writer render the same records), without sockets. The probe-side halves
 * (HTTP 401/403 and unreachable hosts on real sockets) are in test/integration/reasons.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { evaluate } from '../../src/evaluate/evaluate.js';
import type { Observation } from '../../src/evaluate/record.js';
import { extract } from '../helpers/probe.js';
import { rounds } from '../helpers/rounds.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

const config = parseConfig(
  `clusters:
  - name: c
    heartbeat_interval: 15s
    stale_timeout: 60s
    expectations:
      servers_with_fact: [{ name: one_primary, fact: role, values: [master, primary], count: 1 }]
    components:
      - { name: admin, probe: { http: { url: "http://{address}/admin" } }, version: version, heartbeat: heartbeat, facts: { role: role } }
      - { name: agent, required: false, probe: { http: { url: "http://{address}:10473/" } }, key_fingerprint: key }
    servers:
      - { name: a, address: 127.0.0.1 }
      - { name: b, address: 127.0.0.2 }
      - { name: c, address: 127.0.0.3 }
`,
  'truth.yml',
);

const setup = (cfg: Config = config) => rounds(cfg, T0);

/** An answer read at `at`: the admin API's or the agent's, with what they report. */
const answer = (at: number, extra: Partial<Observation> = {}) => ({ success: true, finishedMs: at, values: {}, heartbeatMs: at, version: '5.5', ...extra });
/** Every server's agent answers, so that no server is pending. */
const agents = (t: ReturnType<typeof setup>, at: number) => ['a', 'b', 'c'].forEach((s) => t.fold(s, 'agent', answer(at, { version: undefined, keyHash: 'k1' })));
const server = (s: ReturnType<typeof evaluate>, name: string) => s.clusters[0]!.servers.find((x) => x.name === name)!;
const component = (s: ReturnType<typeof evaluate>, srv: string, name: string) => server(s, srv).components.find((x) => x.name === name)!;
const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));

describe('issue 28: the judgement tells the truth', () => {
  it('item 1: credentials refused make the component unknown, never its server Offline', async () => {
    const t = setup();
    for (const s of ['a', 'b', 'c']) t.fold(s, 'admin', answer(T0, { facts: { role: s === 'a' ? 'master' : 'replica' } }));
    agents(t, T0);
    t.round(T0);
    // The monitoring account's password rotated: the admin API answers 401 on a.
    t.fold('a', 'admin', { success: false, reason: 'unauthorized', detail: 'HTTP 401', finishedMs: T0 + 15_000 });
    const { events, snapshot, metrics } = t.round(T0 + 15_000);
    expect(server(snapshot, 'a')).toMatchObject({ state: 'online', reason: null });
    expect(component(snapshot, 'a', 'admin')).toMatchObject({ state: 'unknown', up: null, reason: 'unauthorized', detail: 'HTTP 401' });
    expect(events.map((e) => [e.kind, e.severity, e.message])).toContainEqual(['component_unknown', 'warning', 'a admin unknown, cannot authenticate: unauthorized (HTTP 401)']);
    expect(events.map((e) => e.kind)).not.toContain('server_offline');
    const text = await metrics();
    // Absent, not 0: every alert on component_up keeps its meaning.
    expect(series(text, 'appcluster_component_up').filter((l) => l.includes('server="a",component="admin"'))).toEqual([]);
    expect(text).toContain('appcluster_component_probe_failure_reason{app_cluster="c",server="a",component="admin",reason="unauthorized"} 1');
    expect(text).toContain('appcluster_server_online{app_cluster="c",server="a"} 1');
  });

  it('item 5: a key the agent reports as an error is unknown and a problem, never the older fingerprint', () => {
    const t = setup();
    const hash = (k: string) => `h(${k})`;
    const key = { keyFingerprint: { json: ['facts', 'encryption_key', 'fingerprint'] } };
    const fine = extract(key, { facts: { encryption_key: { ok: true, fingerprint: 'k1' } } }, {}, hash);
    const gone = extract(key, { facts: { encryption_key: { ok: false, error: 'not_found', detail: 'cannot read the file: ENOENT' } } }, {}, hash);
    expect(gone.keyHash).toBeUndefined();
    expect(gone.problems).toEqual(['key: agent error not_found (cannot read the file: ENOENT)']);
    for (const s of ['a', 'b', 'c']) t.fold(s, 'agent', { ...fine, finishedMs: T0 });
    t.round(T0);
    t.fold('b', 'agent', { ...gone, finishedMs: T0 + 15_000 });
    const { snapshot } = t.round(T0 + 15_000);
    expect(component(snapshot, 'b', 'agent')).toMatchObject({ keyInSync: null, problems: ['key: agent error not_found (cannot read the file: ENOENT)'] });
    // A version the answer no longer holds is unknown too, not the last one reported.
    t.fold('c', 'admin', answer(T0 + 16_000));
    t.fold('c', 'admin', answer(T0 + 31_000, { version: undefined, problems: ['version: missing'] }));
    const later = t.round(T0 + 31_000).snapshot;
    expect(component(later, 'c', 'admin')).toMatchObject({ version: null, versionLastKnown: false, versionInSync: null, problems: ['version: missing'] });
  });

  it('item 6: without a strict majority every server is out of sync, "no majority", for keys and versions', async () => {
    const t = setup();
    for (const s of ['a', 'b', 'c']) t.fold(s, 'agent', answer(T0, { keyHash: `k-${s}` }));
    for (const s of ['a', 'b', 'c']) t.fold(s, 'admin', answer(T0, { version: s === 'a' ? '5.5' : s === 'b' ? '5.6' : '5.7' }));
    const { events, snapshot, metrics } = t.round(T0);
    const cluster = snapshot.clusters[0]!;
    expect(cluster).toMatchObject({ keyWithoutMajority: true, versionsWithoutMajority: ['admin'], referenceVersions: {} });
    for (const s of ['a', 'b', 'c']) {
      expect(component(snapshot, s, 'agent').keyInSync).toBe(false);
      expect(component(snapshot, s, 'admin').versionInSync).toBe(false);
    }
    expect(events.filter((e) => e.kind === 'key_drift').map((e) => [e.server, e.reason])).toEqual([['a', 'no majority'], ['b', 'no majority'], ['c', 'no majority']]);
    expect(events.filter((e) => e.kind === 'version_drift').map((e) => e.message)).toContain('a admin version 5.5 out of sync (cluster: no majority)');
    const text = await metrics();
    expect(series(text, 'appcluster_component_key_in_sync').map((l) => l.split(' ')[1])).toEqual(['0', '0', '0']);
    // Two of three agree again: the odd one is out, the others back in sync.
    t.fold('c', 'agent', answer(T0 + 15_000, { keyHash: 'k-a' }));
    const next = t.round(T0 + 15_000);
    expect(next.events.filter((e) => e.kind === 'key_in_sync').map((e) => e.server)).toEqual(['a', 'c']);
    expect(component(next.snapshot, 'b', 'agent').keyInSync).toBe(false);
    expect(next.snapshot.clusters[0]!.keyWithoutMajority).toBe(false);
  });

  it('item 6: two servers that disagree are both out of sync, none blamed at random', () => {
    const two = parseConfig(
      `clusters:
  - name: c
    components: [{ name: agent, probe: { http: { url: "http://{address}/" } }, key_fingerprint: key, version: version }]
    servers: [{ name: a, address: 127.0.0.1 }, { name: b, address: 127.0.0.2 }]
`,
      'two.yml',
    );
    const t = setup(two);
    t.fold('a', 'agent', answer(T0, { keyHash: 'k1', version: '8.9' }));
    t.fold('b', 'agent', answer(T0, { keyHash: 'k2', version: '8.10' }));
    const { snapshot } = t.round(T0);
    expect(['a', 'b'].map((s) => [component(snapshot, s, 'agent').keyInSync, component(snapshot, s, 'agent').versionInSync])).toEqual([
      [false, false],
      [false, false],
    ]);
  });

  it('item 7: a killed primary\'s last facts are last known, with their age: never counted, compared or announced as current', async () => {
    const t = setup();
    for (const s of ['a', 'b', 'c']) t.fold(s, 'admin', answer(T0, { facts: { role: s === 'a' ? 'master' : 'replica' } }));
    agents(t, T0);
    t.round(T0);
    // a is killed; b is promoted.
    t.fold('a', 'admin', { success: false, reason: 'connection_refused', finishedMs: T0 + 15_000 });
    t.fold('b', 'admin', answer(T0 + 15_000, { facts: { role: 'master' } }));
    const { events, snapshot, metrics } = t.round(T0 + 15_000);
    const a = component(snapshot, 'a', 'admin');
    expect(a).toMatchObject({ state: 'down', facts: { role: 'master' }, factsLastKnownAt: T0 / 1000, versionLastKnown: true, versionInSync: null });
    expect(snapshot.clusters[0]!.expectations[0]).toMatchObject({ name: 'one_primary', servers: 1, matching: ['b'], met: true });
    const text = await metrics();
    expect(series(text, 'appcluster_component_fact_info').filter((l) => l.includes('server="a"'))).toEqual([]);
    expect(series(text, 'appcluster_component_info').filter((l) => l.includes('server="a"'))).toEqual([]);
    expect(series(text, 'appcluster_component_version_in_sync').filter((l) => l.includes('server="a"'))).toEqual([]);
    expect(events.filter((e) => e.kind === 'fact_changed').map((e) => e.server)).toEqual(['b']);
    // 45 s later a comes back as a replica: the event says its old role was last known, and how old.
    t.fold('a', 'admin', answer(T0 + 60_000, { facts: { role: 'replica' } }));
    const back = t.round(T0 + 60_000);
    expect(back.events.filter((e) => e.kind === 'fact_changed' && e.server === 'a').map((e) => e.message)).toEqual(['a admin role: master (last known 1m 0s ago) → replica']);
    expect(component(back.snapshot, 'a', 'admin').factsLastKnownAt).toBeNull();
  });

  it('item 8: a heartbeat frozen on a clock 10 minutes ahead goes stale on the exporter\'s clock; the offset is exported', async () => {
    const t = setup();
    const ahead = 600_000;
    const frozen = T0 + ahead;
    for (const s of ['a', 'b', 'c']) t.fold(s, 'admin', answer(T0, { heartbeatMs: s === 'a' ? frozen : T0 }));
    agents(t, T0);
    t.round(T0);
    // a's heartbeat moves once more, then stops; its server still answers.
    t.fold('a', 'admin', answer(T0 + 15_000, { heartbeatMs: frozen + 15_000 }));
    for (const s of ['b', 'c']) t.fold(s, 'admin', answer(T0 + 15_000));
    let last = t.round(T0 + 15_000);
    for (let at = T0 + 30_000; at <= T0 + 90_000; at += 15_000) {
      t.fold('a', 'admin', answer(at, { heartbeatMs: frozen + 15_000 }));
      for (const s of ['b', 'c']) t.fold(s, 'admin', answer(at));
      last = t.round(at);
    }
    const a = component(last.snapshot, 'a', 'admin');
    expect(a).toMatchObject({ state: 'stale', heartbeatAgeSeconds: 75, lastHeartbeat: (frozen + 15_000) / 1000, clockOffsetSeconds: 600 });
    expect(server(last.snapshot, 'a')).toMatchObject({ state: 'offline', reason: 'admin: stale', clockOffsetSeconds: 600 });
    expect(server(last.snapshot, 'b')).toMatchObject({ state: 'online', clockOffsetSeconds: 0 });
    const text = await last.metrics();
    expect(text).toContain('appcluster_server_clock_offset_seconds{app_cluster="c",server="a"} 600');
    expect(text).toContain('appcluster_server_clock_offset_seconds{app_cluster="c",server="b"} 0');
    expect(text).toContain('appcluster_component_heartbeat_age_seconds{app_cluster="c",server="a",component="admin"} 75');
  });

  it('item 8: a clock behind shows as a negative offset once its heartbeat moves, without going stale', () => {
    const t = setup();
    const behind = 300_000;
    t.fold('a', 'admin', answer(T0, { heartbeatMs: T0 - behind }));
    t.round(T0);
    t.fold('a', 'admin', answer(T0 + 15_000, { heartbeatMs: T0 + 15_000 - behind }));
    const { snapshot } = t.round(T0 + 15_000);
    // Written after the first answer by a node clock at least 285 s behind.
    expect(component(snapshot, 'a', 'admin')).toMatchObject({ state: 'up', heartbeatAgeSeconds: 15, clockOffsetSeconds: -285 });
  });

  it("item 8: the agent's node time gives the offset, bounded by the request's own span", () => {
    const t = setup();
    const clock = { clock: { json: ['node', 'time'] } };
    const at = T0 + 15_000;
    // Answered in 200 ms; the node's clock read 10 minutes ahead of the exporter's.
    const ahead = extract(clock, { node: { time: (at + 600_000) / 1000 } }, {}, (k) => k, at);
    const within = extract(clock, { node: { time: (at - 100) / 1000 } }, {}, (k) => k, at);
    const bad = extract(clock, { node: { time: 'soon' } }, {}, (k) => k, at);
    expect(bad.problems).toEqual(['clock: time "soon" is not a timestamp']);
    t.fold('a', 'agent', { ...ahead, finishedMs: at, durationMs: 200 });
    t.fold('b', 'agent', { ...within, finishedMs: at, durationMs: 200 });
    const { snapshot } = t.round(at);
    expect(server(snapshot, 'a').clockOffsetSeconds).toBeCloseTo(599.999, 6);
    expect(server(snapshot, 'b').clockOffsetSeconds).toBe(0);
  });

  it('item 12: a failure count is present at 0 from the first probe, one series per component', async () => {
    const t = setup();
    t.fold('a', 'admin', answer(T0));
    const first = await t.round(T0).metrics();
    expect(series(first, 'appcluster_component_probes_failed_total')).toEqual(['appcluster_component_probes_failed_total{app_cluster="c",server="a",component="admin"} 0']);
    t.fold('a', 'admin', { success: false, reason: 'timeout', finishedMs: T0 + 15_000 });
    t.fold('a', 'admin', { success: false, reason: 'connection_refused', finishedMs: T0 + 30_000 });
    const later = await t.round(T0 + 30_000).metrics();
    expect(series(later, 'appcluster_component_probes_failed_total')).toEqual(['appcluster_component_probes_failed_total{app_cluster="c",server="a",component="admin"} 2']);
  });
});
