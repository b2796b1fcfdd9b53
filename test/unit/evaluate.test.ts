import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { evaluate, judgeServer, majority } from '../../src/evaluate/evaluate.js';
import { recordsFor } from '../helpers/records.js';
import { extract } from '../helpers/probe.js';



const NOW = 2_000_000;
const config = parseConfig(
  `clusters:
  - name: mft
    stale_timeout: 60s
    components:
      - { name: web, stale_timeout: 24h, probe: { tcp: { port: 80 } } }
      - { name: service, probe: { tcp: { port: 81 } } }
    servers:
      - { name: a, address: 127.0.0.1 }
      - { name: b, address: 127.0.0.2 }
      - { name: c, address: 127.0.0.3 }
      - name: dr
        address: 127.0.0.4
        role: standby
        components: { service: { required: false } }
`,
  'eval.yml',
);

function healthy(set: ReturnType<typeof recordsFor>['set'], server: string, extra: Record<string, unknown> = {}) {
  for (const component of ['web', 'service']) {
    set('mft', server, component, { success: true, finishedMs: NOW - 1000, version: '8.6.2', keyHash: 'k1', heartbeatMs: NOW - 2000, ...extra });
  }
}

function server(snapshot: ReturnType<typeof evaluate>, name: string) {
  return snapshot.clusters[0]!.servers.find((s) => s.name === name)!;
}

describe('majority', () => {
  it('takes the value more than half hold', () => {
    expect(majority(['1.0', '2.0', '1.0'])).toBe('1.0');
    expect(majority(['1.0'])).toBe('1.0');
  });
  it('is undefined without a strict majority, whatever the order (issue 28, item 6)', () => {
    expect(majority(['8.10.0', '8.9.0'])).toBeUndefined();
    expect(majority(['8.9.0', '8.10.0'])).toBeUndefined();
    expect(majority(['a', 'b', 'c'])).toBeUndefined();
    expect(majority(['a', 'a', 'b', 'b'])).toBeUndefined();
  });
  it('is undefined for nothing', () => {
    expect(majority([])).toBeUndefined();
  });
});

describe('evaluate', () => {
  it('is pending until every component has been probed', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'web', { success: true });
    const s = evaluate(config, records, NOW);
    expect(server(s, 'a').state).toBe('pending');
    expect(s.clusters[0]!.serversOnline).toBe(0);
  });

  it('judges every server online when all report in sync', () => {
    const { records, set } = recordsFor(config);
    for (const s of ['a', 'b', 'c', 'dr']) healthy(set, s);
    const snap = evaluate(config, records, NOW);
    const cluster = snap.clusters[0]!;
    expect(cluster.serversOnline).toBe(4);
    expect(cluster.keyFingerprints).toBe(1);
    expect(cluster.referenceVersions).toEqual({ web: '8.6.2', service: '8.6.2' });
    const web = server(snap, 'a').components[0]!;
    expect(web).toMatchObject({ state: 'up', up: true, versionInSync: true, keyInSync: true, heartbeatAgeSeconds: 2, stale: false });
    expect(web.lastHeartbeat).toBe((NOW - 2000) / 1000);
  });

  it('takes a server offline when a required component is down, with the reason', () => {
    const { records, set } = recordsFor(config);
    for (const s of ['a', 'b', 'c', 'dr']) healthy(set, s);
    set('mft', 'b', 'service', { success: false, reason: 'connection_refused' });
    const snap = evaluate(config, records, NOW);
    expect(server(snap, 'b')).toMatchObject({ state: 'offline', reason: 'service: connection_refused' });
    expect(server(snap, 'b').components[1]).toMatchObject({ state: 'down', up: false, reason: 'connection_refused' });
    expect(snap.clusters[0]!.serversOnline).toBe(3);
  });

  it('keeps a standby online when only its optional component is down', () => {
    const { records, set } = recordsFor(config);
    for (const s of ['a', 'b', 'c', 'dr']) healthy(set, s);
    set('mft', 'dr', 'service', { success: false, reason: 'connection_refused' });
    expect(server(evaluate(config, records, NOW), 'dr').state).toBe('online');
  });

  it('calls a server unreachable when no component answers, even with none required', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'dr', 'web', { success: false, reason: 'timeout' });
    set('mft', 'dr', 'service', { success: false, reason: 'timeout' });
    expect(server(evaluate(config, records, NOW), 'dr')).toMatchObject({ state: 'offline', reason: 'unreachable (web: timeout)' });
  });

  it('marks a heartbeat older than its stale timeout stale, per component timeout', () => {
    const { records, set } = recordsFor(config);
    for (const s of ['a', 'b', 'dr']) healthy(set, s);
    // First answers: a heartbeat is placed at its own time when first seen.
    set('mft', 'c', 'service', { success: true, finishedMs: NOW, heartbeatMs: NOW - 61_000 });
    set('mft', 'c', 'web', { success: true, finishedMs: NOW, heartbeatMs: NOW - 3_600_000 });
    const c = server(evaluate(config, records, NOW), 'c');
    expect(c.components.map((x) => [x.name, x.state])).toEqual([
      ['web', 'up'],
      ['service', 'stale'],
    ]);
    expect(c).toMatchObject({ state: 'offline', reason: 'service: stale' });
  });

  it('uses the last successful probe as heartbeat when none is reported', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'service', { success: true, finishedMs: NOW - 5000 });
    set('mft', 'a', 'service', { success: false, reason: 'timeout', finishedMs: NOW - 1000 });
    const service = server(evaluate(config, records, NOW), 'a').components[1]!;
    expect(service).toMatchObject({ lastHeartbeat: (NOW - 5000) / 1000, heartbeatAgeSeconds: 5, failures: { timeout: 1 } });
  });

  it('holds versions to the majority and flags the drifted one', () => {
    const { records, set } = recordsFor(config);
    for (const s of ['a', 'b', 'dr']) healthy(set, s);
    healthy(set, 'c', { version: '8.5.0' });
    const snap = evaluate(config, records, NOW);
    expect(server(snap, 'c').components.map((x) => x.versionInSync)).toEqual([false, false]);
    expect(server(snap, 'a').components.map((x) => x.versionInSync)).toEqual([true, true]);
    expect(server(snap, 'c').state).toBe('online');
  });

  it('holds versions to expected_version when set, even against the majority', async () => {
    const pinned = parseConfig(
      `clusters:
  - name: mft
    expected_version: "9.0.0"
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: a, address: 127.0.0.1 }, { name: b, address: 127.0.0.2 }]`,
      'p.yml',
    );
    const { records, set } = recordsFor(pinned);
    set('mft', 'a', 'web', { success: true, version: '8.6.2' });
    set('mft', 'b', 'web', { success: true, version: '9.0.0' });
    const snap = evaluate(pinned, records, NOW);
    expect(snap.clusters[0]!.servers.map((s) => s.components[0]!.versionInSync)).toEqual([false, true]);
  });

  it('flags the key that differs and counts distinct keys', () => {
    const { records, set } = recordsFor(config);
    for (const s of ['a', 'b', 'c']) healthy(set, s);
    healthy(set, 'dr', { keyHash: 'k2' });
    const snap = evaluate(config, records, NOW);
    expect(snap.clusters[0]!.keyFingerprints).toBe(2);
    expect(server(snap, 'dr').components.map((x) => x.keyInSync)).toEqual([false, false]);
    expect(server(snap, 'a').components.map((x) => x.keyInSync)).toEqual([true, true]);
  });

  it('leaves sync unknown while nothing is reported', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'web', { success: true });
    const web = server(evaluate(config, records, NOW), 'a').components[0]!;
    expect([web.versionInSync, web.keyInSync]).toEqual([null, null]);
  });
});

describe('reported heartbeats that are not valid', () => {
  // A real clock: the heartbeat rules refuse instants before 2000.
  const T = Date.UTC(2026, 0, 1);
  const spec = { values: {}, status: { from: { json: ['status'] }, healthy: ['ok'] }, heartbeat: { json: ['hb'] } };
  /** One answer read the way the http probe reads it, finished at `at`. */
  const answer = (hb: unknown, at: number) => ({ ...extract(spec, { status: 'ok', hb }, {}, (k) => k, at), finishedMs: at });

  it.each([0, -1, '0', '-1', 'March 7'])('heartbeat %j: not stale while probes succeed, and says why', (hb) => {
    const { records, set } = recordsFor(config);
    // Five minutes of probes every 15 s, far past service's 60 s stale timeout.
    for (let at = T; at <= T + 300_000; at += 15_000) {
      set('mft', 'a', 'web', answer(hb, at));
      set('mft', 'a', 'service', answer(hb, at));
      const a = server(evaluate(config, records, at + 1000), 'a');
      expect(a).toMatchObject({ state: 'online', reason: null });
      expect(a.components[1]).toMatchObject({ state: 'up', stale: false, lastHeartbeat: at / 1000, heartbeatAgeSeconds: 1 });
      expect(a.components[1]!.heartbeatProblem).toMatch(/^heartbeat "[^"]+" is (before 2000-01-01|not a timestamp)$/);
    }
  });

  it('drops a valid heartbeat once answers turn invalid, and a valid one clears the problem', () => {
    const { records, set } = recordsFor(config);
    const service = (at: number) => server(evaluate(config, records, at), 'a').components[1]!;
    set('mft', 'a', 'web', answer(new Date(T).toISOString(), T));
    set('mft', 'a', 'service', answer(new Date(T - 1000).toISOString(), T));
    expect(service(T)).toMatchObject({ lastHeartbeat: (T - 1000) / 1000, heartbeatProblem: null });
    for (let at = T + 15_000; at <= T + 120_000; at += 15_000) set('mft', 'a', 'service', answer(0, at));
    expect(service(T + 121_000)).toMatchObject({ state: 'up', lastHeartbeat: (T + 120_000) / 1000, heartbeatProblem: 'heartbeat "0" is before 2000-01-01' });
    set('mft', 'a', 'service', answer(T + 130_000, T + 135_000));
    expect(service(T + 136_000)).toMatchObject({ state: 'up', lastHeartbeat: (T + 130_000) / 1000, heartbeatProblem: null });
    // A probe that got no answer leaves the valid heartbeat to age.
    set('mft', 'a', 'service', { success: false, reason: 'timeout', finishedMs: T + 150_000 });
    expect(service(T + 200_000)).toMatchObject({ state: 'down', stale: true, lastHeartbeat: (T + 130_000) / 1000, heartbeatProblem: null });
  });
});

describe('judgeServer', () => {
  it('says when its judgement can next change without new probes: the first required heartbeat to go stale', () => {
    const { records, set } = recordsFor(config);
    set('mft', 'a', 'web', { success: true, finishedMs: NOW, heartbeatMs: NOW - 2000 });
    set('mft', 'a', 'service', { success: true, finishedMs: NOW, heartbeatMs: NOW - 5000 });
    const a = config.clusters[0]!.servers[0]!;
    const recs = a.components.map((c) => records.get(c.key));
    // service goes stale 60 s after its heartbeat; web's 24 h come later.
    const judged = judgeServer(a, recs, NOW);
    expect(judged).toEqual({ state: 'online', reason: null, changesAt: NOW - 5000 + 60_000 + 1 });
    expect(judgeServer(a, recs, judged.changesAt - 1).state).toBe('online');
    expect(judgeServer(a, recs, judged.changesAt)).toMatchObject({ state: 'offline', reason: 'service: stale' });
  });
});

describe('fact expectations', () => {
  // etcd's shape: the health endpoint says whether a member serves, the status endpoint
  // (another schedule) says who leads.
  const etcd = parseConfig(
    `clusters:
  - name: etcd
    expectations:
      servers_with_fact: [{ name: one_leader, fact: leader, values: ["true"], count: 1 }]
    components:
      - { name: health, probe: { http: { url: "http://{address}:2379/health" } }, status: health }
      - { name: raft, required: false, probe: { http: { url: "http://{address}:2379/status" } }, facts: { leader: leader } }
    servers: [{ name: m1, address: 127.0.0.1 }, { name: m2, address: 127.0.0.2 }, { name: m3, address: 127.0.0.3 }]
`,
    'etcd.yml',
  );
  const judge = (set: ReturnType<typeof recordsFor>['set'], records: ReturnType<typeof recordsFor>['records']) =>
    evaluate(etcd, records, NOW).clusters[0]!.expectations[0]!;

  it("counts each server by its own latest word: a leader whose status endpoint answers counts though its server is Offline", () => {
    const { records, set } = recordsFor(etcd);
    for (const [server, leader] of [['m1', 'true'], ['m2', 'false'], ['m3', 'false']] as const) {
      set('etcd', server, 'health', { success: true, finishedMs: NOW - 500, status: 'true' });
      set('etcd', server, 'raft', { success: true, finishedMs: NOW - 500, facts: { leader } });
    }
    expect(judge(set, records)).toMatchObject({ servers: 1, met: true, matching: ['m1'] });
    // m1's health check fails, and its server is Offline. Its "I lead" came before: in
    // doubt until its status endpoint (asked again at once by the prober) answers.
    set('etcd', 'm1', 'health', { success: false, reason: 'timeout', finishedMs: NOW - 100 });
    expect(evaluate(etcd, records, NOW).clusters[0]!.servers[0]!.state).toBe('offline');
    expect(judge(set, records)).toMatchObject({ servers: 0, met: null, matching: [] });
    expect(judge(set, records).summary).toBe('0 servers with leader true, 1 not heard (m1), expected exactly 1');
    // It answers: it still leads, by its own word, though its server is Offline.
    set('etcd', 'm1', 'raft', { success: true, finishedMs: NOW - 60, facts: { leader: 'true' } });
    expect(judge(set, records)).toMatchObject({ servers: 1, met: true, matching: ['m1'] });
    // Two members that say they lead are two leaders, whatever else fails on one of them.
    set('etcd', 'm2', 'raft', { success: true, finishedMs: NOW - 50, facts: { leader: 'true' } });
    expect(judge(set, records)).toMatchObject({ servers: 2, met: false, matching: ['m1', 'm2'] });
    // m1 is dead: its status endpoint fails too.
    set('etcd', 'm1', 'raft', { success: false, reason: 'connection_refused', finishedMs: NOW - 40 });
    expect(judge(set, records)).toMatchObject({ servers: 1, met: true, matching: ['m2'] });
  });

  it('is neither breached nor met on a word not heard: credentials refused on every member is not "no leader"', () => {
    const { records, set } = recordsFor(etcd);
    for (const server of ['m1', 'm2', 'm3']) {
      set('etcd', server, 'health', { success: true, finishedMs: NOW - 500, status: 'true' });
      set('etcd', server, 'raft', { success: false, reason: 'unauthorized', finishedMs: NOW - 500 });
    }
    expect(judge(set, records)).toMatchObject({ servers: 0, met: null, summary: '0 servers with leader true, 3 not heard (m1, m2, m3), expected exactly 1' });
    // Two heard leaders breach it whatever the unheard one says.
    set('etcd', 'm1', 'raft', { success: true, finishedMs: NOW - 50, facts: { leader: 'true' } });
    set('etcd', 'm2', 'raft', { success: true, finishedMs: NOW - 50, facts: { leader: 'true' } });
    expect(judge(set, records)).toMatchObject({ servers: 2, met: false });
    // One heard leader, one unheard member that may say it leads too: not known.
    set('etcd', 'm2', 'raft', { success: true, finishedMs: NOW - 40, facts: { leader: 'false' } });
    expect(judge(set, records)).toMatchObject({ servers: 1, met: null });
  });
});
