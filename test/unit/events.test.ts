import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { events, type ClusterEvent } from '../../src/evaluate/events.js';
import { pushRecent, RECENT_CHECKS, RecentChecks } from '../../src/evaluate/recent.js';
import { recordKey, type ComponentRecord, type Observation } from '../../src/evaluate/record.js';
import { EventLog, UNKNOWN_CLUSTER, type EventPage, type EventQuery } from '../../src/monitor/event-log.js';
import { rounds } from '../helpers/rounds.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

const config = parseConfig(
  `clusters:
  - name: mft
    stale_timeout: 60s
    expectations:
      min_servers_online: 2
      servers_with_fact: [{ name: one_primary, fact: role, values: [primary], count: 1 }]
    components:
      - { name: web, stale_timeout: 24h, probe: { http: { url: "http://{address}/" } }, version: version, key_fingerprint: key }
      - { name: service, probe: { http: { url: "http://{address}:81/" } }, version: version, key_fingerprint: key, facts: { role: role } }
    servers:
      - { name: a, address: 127.0.0.1 }
      - { name: b, address: 127.0.0.2 }
      - { name: c, address: 127.0.0.3 }
`,
  'events.yml',
);

const setup = (cfg: Config = config) => rounds(cfg, T0);

const ok = (at: number, extra: Partial<Observation> = {}) => ({ success: true, finishedMs: at, heartbeatMs: at, version: '8.6.2', keyHash: 'k1', ...extra });
const refused = (at: number) => ({ success: false, reason: 'connection_refused' as const, finishedMs: at });
const kinds = (list: readonly ClusterEvent[]) => list.map((e) => `${e.kind} ${e.server ?? ''}${e.component ? `/${e.component}` : ''}`.trim());

function allHealthy(t: ReturnType<typeof setup>, at: number, role: (s: string) => string = (s) => (s === 'a' ? 'primary' : 'replica')) {
  for (const s of ['a', 'b', 'c']) {
    t.fold(s, 'web', ok(at));
    t.fold(s, 'service', ok(at, { facts: { role: role(s) } }));
  }
}

describe('transitions between rounds', () => {
  it('says nothing while servers come up, then logs offline with the reason and back online with the time offline', () => {
    const t = setup();
    expect(t.round(T0).events).toEqual([]);
    allHealthy(t, T0 + 100);
    const first = t.round(T0 + 1000);
    expect(first.events).toEqual([]);
    expect(first.snapshot.clusters[0]!.servers.map((s) => [s.state, s.since])).toEqual([
      ['online', (T0 + 1000) / 1000],
      ['online', (T0 + 1000) / 1000],
      ['online', (T0 + 1000) / 1000],
    ]);
    t.fold('b', 'service', refused(T0 + 1500));
    const down = t.round(T0 + 2000);
    expect(kinds(down.events)).toEqual(['component_down b/service', 'server_offline b']);
    expect(down.events[1]).toMatchObject({ severity: 'warning', reason: 'service: connection_refused', message: 'b offline: service: connection_refused', time: (T0 + 2000) / 1000 });
    expect(down.snapshot.clusters[0]!.servers[1]).toMatchObject({ state: 'offline', since: (T0 + 2000) / 1000 });
    // Every server reports again; only b's state changes.
    allHealthy(t, T0 + 192_500);
    const back = t.round(T0 + 193_000);
    expect(kinds(back.events)).toEqual(['component_up b/service', 'server_online b']);
    expect(back.events[1]!.message).toBe('b back online after 3m 11s offline');
  });

  it('counts a primary by its own word though another component has taken its server Offline: two primaries are evented', () => {
    const t = setup();
    allHealthy(t, T0);
    t.round(T0 + 1000);
    const onePrimary = (r: ReturnType<typeof t.round>) => r.snapshot.clusters[0]!.expectations.find((e) => e.name === 'one_primary')!;
    // a's web fails: a is Offline. Its service's "primary" came before the failure: not
    // heard until asked again, and no event for a count not known.
    t.fold('a', 'web', refused(T0 + 1500));
    const down = t.round(T0 + 2000);
    expect(kinds(down.events)).toEqual(['component_down a/web', 'server_offline a']);
    expect(onePrimary(down)).toMatchObject({ met: null, matching: [] });
    // The prober asks a's service again at once: it still says it is the primary.
    t.fold('a', 'service', ok(T0 + 2100, { facts: { role: 'primary' } }));
    const heard = t.round(T0 + 2500);
    expect(heard.events).toEqual([]);
    expect(onePrimary(heard)).toMatchObject({ met: true, matching: ['a'] });
    // b is promoted: two servers say they are the primary.
    t.fold('b', 'service', ok(T0 + 2600, { facts: { role: 'primary' } }));
    const split = t.round(T0 + 3000);
    expect(split.events.filter((e) => e.kind === 'expectation_not_met').map((e) => e.subject)).toEqual(['one_primary']);
    expect(onePrimary(split)).toMatchObject({ met: false, matching: ['a', 'b'] });
    // a's service fails too: a says nothing more, and b is the one primary.
    t.fold('a', 'service', refused(T0 + 3500));
    const one = t.round(T0 + 4000);
    expect(one.events.filter((e) => e.kind.startsWith('expectation_')).map((e) => `${e.kind} ${e.subject}`)).toEqual(['expectation_met one_primary']);
  });

  it('re-counts when a component turns stale with no new probe, on a server already Offline', () => {
    const t = setup();
    allHealthy(t, T0);
    t.round(T0 + 1000);
    // a is Offline by its web; its service, asked again, still says primary and beats.
    t.fold('a', 'web', refused(T0 + 1500));
    t.fold('a', 'service', ok(T0 + 1600, { facts: { role: 'primary' } }));
    expect(t.round(T0 + 2000).snapshot.clusters[0]!.expectations.find((e) => e.name === 'one_primary')).toMatchObject({ met: true });
    // The others keep answering; a's service does not, and its heartbeat goes stale (60 s):
    // a stale primary does not speak, with no state of a's server to change.
    for (const at of [T0 + 30_000, T0 + 60_000]) {
      for (const s of ['b', 'c']) {
        t.fold(s, 'web', ok(at));
        t.fold(s, 'service', ok(at, { facts: { role: 'replica' } }));
      }
      t.round(at + 500);
    }
    const r = t.round(T0 + 61_601);
    expect(kinds(r.events)).toEqual(['component_stale a/service', 'expectation_not_met']);
  });

  it('logs nothing for a failure and a recovery within one round: no snapshot showed it', () => {
    const t = setup();
    allHealthy(t, T0);
    t.round(T0 + 1000);
    t.fold('b', 'service', refused(T0 + 1200));
    t.fold('b', 'service', ok(T0 + 1700));
    const r = t.round(T0 + 2000);
    expect(r.events).toEqual([]);
    expect(r.snapshot.clusters[0]!.servers[1]!.state).toBe('online');
    // The strip still shows every probe, the failure included.
    expect(r.snapshot.clusters[0]!.servers[1]!.components[1]!.recent.toJSON().map((x) => x.result)).toEqual(['up', 'down', 'up']);
  });

  it('notices a heartbeat going stale with no new result, not a millisecond early, and says how old', () => {
    const t = setup();
    allHealthy(t, T0);
    t.round(T0 + 1000);
    expect(t.round(T0 + 60_000).events).toEqual([]);
    const r = t.round(T0 + 60_001);
    expect(kinds(r.events)).toEqual([
      'component_stale a/service',
      'server_offline a',
      'component_stale b/service',
      'server_offline b',
      'component_stale c/service',
      'server_offline c',
      'expectation_not_met',
      'expectation_not_met',
    ]);
    expect(r.events.filter((e) => e.kind === 'server_offline').map((e) => e.reason)).toEqual(['service: stale', 'service: stale', 'service: stale']);
    expect(r.events.find((e) => e.kind === 'component_stale')!.reason).toBe('heartbeat 1m 0s old, stale timeout 1m 0s');
    expect(r.snapshot.clusters[0]!.servers.every((s) => s.state === 'offline')).toBe(true);
    // min_servers_online is breached in the same round, and one_primary too: a primary
    // whose heartbeat is stale does not speak for itself.
    expect(r.events.filter((e) => e.kind === 'expectation_not_met').map((e) => e.subject)).toEqual(['min_servers_online', 'one_primary']);
  });

  it('logs version and key drift and their return, against the majority', () => {
    const t = setup();
    allHealthy(t, T0);
    t.round(T0 + 1000);
    t.fold('c', 'web', ok(T0 + 1500, { version: '8.5.0', keyHash: 'k2' }));
    const drift = t.round(T0 + 2000);
    expect(kinds(drift.events)).toEqual(['version_drift c/web', 'key_drift c/web']);
    expect(drift.events[0]).toMatchObject({ from: '8.6.2', to: '8.5.0', message: 'c web version 8.5.0 out of sync (cluster: 8.6.2)' });
    t.fold('c', 'web', ok(T0 + 2500));
    expect(kinds(t.round(T0 + 3000).events)).toEqual(['version_in_sync c/web', 'key_in_sync c/web']);
  });

  it('logs a fact that changes between rounds, not one that changed back within a round', () => {
    const t = setup();
    allHealthy(t, T0);
    t.round(T0 + 1000);
    t.fold('a', 'service', ok(T0 + 1100, { facts: { role: 'replica' } }));
    t.fold('a', 'service', ok(T0 + 1200, { facts: { role: 'primary' } }));
    expect(t.round(T0 + 2000).events).toEqual([]);
    // The leader moves: a to replica, b to primary.
    t.fold('a', 'service', ok(T0 + 2100, { facts: { role: 'replica' } }));
    const r1 = t.round(T0 + 3000);
    expect(kinds(r1.events)).toEqual(['fact_changed a/service', 'expectation_not_met']);
    expect(r1.events[0]).toMatchObject({ subject: 'role', from: 'primary', to: 'replica', message: 'a service role: primary → replica' });
    expect(r1.events[1]).toMatchObject({ subject: 'one_primary', reason: '0 servers with role primary, expected exactly 1' });
    t.fold('b', 'service', ok(T0 + 3100, { facts: { role: 'primary' } }));
    const r2 = t.round(T0 + 4000);
    expect(kinds(r2.events)).toEqual(['fact_changed b/service', 'expectation_met']);
  });

  it('judges exactly as evaluate() does, round after round', () => {
    // A pseudo-random run: results fold in between rounds; at each round the remembered
    // state of every server equals the snapshot's, so the log and the snapshot agree.
    const t = setup();
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let now = T0;
    let offline = 0;
    for (let round = 0; round < 400; round++) {
      for (let k = Math.floor(rand() * 4); k > 0; k--) {
        const server = ['a', 'b', 'c'][Math.floor(rand() * 3)]!;
        const component = rand() < 0.5 ? 'web' : 'service';
        const at = now + Math.floor(rand() * 1000);
        const x = rand();
        t.fold(server, component, x < 0.2 ? refused(at) : ok(at - (x < 0.3 ? 70_000 : 0), { version: x < 0.35 ? '8.5.0' : '8.6.2' }));
      }
      now += 1000 + Math.floor(rand() * 30_000);
      const { events: evs, snapshot } = t.round(now);
      offline += evs.filter((e) => e.kind === 'server_offline').length;
      for (const s of snapshot.clusters[0]!.servers) {
        expect(s.state).toBe(t.transitions.state('mft', s.name));
        expect(s.since).toBe(t.transitions.since('mft', s.name)! / 1000);
      }
      for (const e of evs.filter((x) => x.kind === 'server_offline' || x.kind === 'server_online')) {
        expect(snapshot.clusters[0]!.servers.find((s) => s.name === e.server)!.state).toBe(e.to);
      }
    }
    expect(offline).toBeGreaterThan(5);
  });

  it('keeps state and since across a reload, and starts new servers pending', () => {
    const t = setup();
    allHealthy(t, T0);
    t.round(T0 + 1000);
    t.fold('b', 'service', refused(T0 + 1500));
    t.round(T0 + 2000);
    const next = parseConfig(
      `clusters:
  - name: mft
    stale_timeout: 60s
    components:
      - { name: web, stale_timeout: 24h, probe: { http: { url: "http://{address}/" } }, version: version, key_fingerprint: key }
      - { name: service, probe: { http: { url: "http://{address}:81/" } }, version: version, key_fingerprint: key, facts: { role: role } }
    servers:
      - { name: b, address: 127.0.0.2 }
      - { name: d, address: 127.0.0.4 }
`,
      'events.yml',
    );
    t.configure(next, T0 + 5000);
    const r = t.round(T0 + 5000);
    expect(r.events).toEqual([]);
    expect(r.snapshot.clusters[0]!.servers.map((s) => [s.name, s.state, s.since])).toEqual([
      ['b', 'offline', (T0 + 2000) / 1000],
      ['d', 'pending', (T0 + 5000) / 1000],
    ]);
    expect(r.snapshot.clusters[0]!.serversPending).toBe(1);
    expect(t.transitions.since('mft', 'a')).toBeUndefined();
  });
});

describe('the event log', () => {
  const ev = (time: number, cluster: string | null, n = 0) =>
    cluster === null ? events.reloaded(time, true, 1) : events.component(time, cluster, `s${n}`, 'web', 'up', 'down', 'timeout');

  /** The page the log answers for a configured cluster (or all). */
  const page = (log: EventLog, query: EventQuery): EventPage => {
    const p = log.query(query);
    if (p === UNKNOWN_CLUSTER) throw new Error(`unknown cluster ${query.cluster}`);
    return p;
  };

  it('keeps a bounded ring per cluster, so a noisy cluster cannot push out another', () => {
    const log = new EventLog(5);
    log.add(ev(1, 'quiet'));
    for (let i = 0; i < 12; i++) log.add(ev(2 + i, 'noisy', i));
    expect(log.latest('noisy', 100).map((e) => e.server)).toEqual(['s11', 's10', 's9', 's8', 's7']);
    expect(log.latest('quiet', 100)).toHaveLength(1);
    // The noisy ring let events go: a poller from the start is told it missed some.
    expect(page(log, { limit: 100 })).toMatchObject({ more: false, missed: true });
    expect(page(log, { limit: 100 }).events).toHaveLength(6);
    expect(page(log, { cluster: 'quiet', limit: 100 }).missed).toBe(false);
  });

  it('answers oldest first after a cursor, per cluster, at most `limit`, with `more` while more remain', () => {
    const log = new EventLog();
    log.retain(new Set(['a', 'b']));
    log.add(ev(10, 'a', 1));
    log.add(ev(10, 'b', 2));
    log.add(ev(11, null));
    log.add(ev(12, 'a', 3));
    log.add(ev(12, 'a', 4));
    const all = page(log, { limit: 100 });
    expect(all.events.map((e) => [e.seq, e.time, e.server])).toEqual([
      [1, 10, 's1'],
      [2, 10, 's2'],
      [3, 11, null],
      [4, 12, 's3'],
      [5, 12, 's4'],
    ]);
    expect(all).toMatchObject({ more: false, missed: false });
    // Asking again with `next` repeats nothing, and finds what came since.
    expect(page(log, { after: all.next, limit: 100 }).events).toEqual([]);
    expect(page(log, { after: all.next, limit: 100 }).next).toBe(all.next);
    log.add(ev(13, 'b', 5));
    expect(page(log, { after: all.next, limit: 100 }).events.map((e) => e.server)).toEqual(['s5']);
    expect(page(log, { cluster: 'a', limit: 100 }).events.map((e) => e.server)).toEqual(['s1', 's3', 's4']);
    // The events of one time (12) split across two pages: the second page has the rest.
    const first = page(log, { limit: 3 });
    expect(first).toMatchObject({ more: true });
    expect(first.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    const second = page(log, { after: first.next, limit: 2 });
    expect(second.events.map((e) => [e.time, e.server])).toEqual([
      [12, 's3'],
      [12, 's4'],
    ]);
    expect(second.more).toBe(true);
    expect(log.query({ cluster: 'nope', limit: 100 })).toBe(UNKNOWN_CLUSTER);
    const before = page(log, { limit: 100 }).next;
    log.retain(new Set(['b']));
    expect(page(log, { limit: 100 }).events.map((e) => e.cluster)).toEqual(['b', null, 'b']);
    // A poller of every cluster that had not seen a removed cluster's events is told; one that had is not.
    expect(page(log, { limit: 100 }).missed).toBe(true);
    expect(page(log, { after: before, limit: 100 }).missed).toBe(false);
  });

  it('hands a poller with limit=2 all 26 events of rounds whose events share a time', () => {
    const log = new EventLog();
    const got: number[] = [];
    let after: string | undefined;
    const poll = () => {
      for (let p = page(log, { after, limit: 2 }); ; p = page(log, { after, limit: 2 })) {
        got.push(...p.events.map((e) => e.seq));
        after = p.next;
        if (!p.more) return;
      }
    };
    // Rounds of 5 events at one time each, the poller asking between rounds.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 5; i++) log.add(ev(100 + round, 'a', i));
      poll();
    }
    log.add(ev(106, null));
    poll();
    expect(got).toEqual(Array.from({ length: 26 }, (_, i) => i + 1));
  });

  it("counts a cursor of another run (a restart) as none, with `missed` set", () => {
    const before = new EventLog();
    before.add(ev(1, 'a'));
    before.add(ev(2, 'a'));
    const cursor = page(before, { limit: 100 }).next;
    const after = new EventLog();
    after.add(ev(3, 'a'));
    expect(page(after, { after: cursor, limit: 100 })).toMatchObject({ missed: true, events: [{ time: 3, seq: 1 }] });
  });

  it('clips a failed reload error', () => {
    const e = events.reloadFailed(1, 'x'.repeat(10_000));
    expect(e.reason!.length).toBeLessThanOrEqual(401);
    expect(e.message.length).toBeLessThan(500);
  });
});

describe('the ring of recent checks', () => {
  it('keeps the last RECENT_CHECKS results in a fixed array of numbers, oldest first', () => {
    const r: ComponentRecord = { failures: {} };
    for (let i = 0; i < RECENT_CHECKS + 7; i++) {
      pushRecent(r, i % 5 === 0 ? 'down' : i % 7 === 0 ? 'stale' : 'up', i % 10 === 0 ? 'timeout' : 'connection_reset', T0 + i * 1000);
    }
    expect(r.recent).toHaveLength(RECENT_CHECKS);
    expect(r.recent!.every((x) => typeof x === 'number')).toBe(true);
    const list = RecentChecks.of(r).toJSON();
    expect(list).toHaveLength(RECENT_CHECKS);
    expect(list[0]).toEqual({ at: (T0 + 7000) / 1000, result: 'stale' });
    expect(list.at(-1)).toEqual({ at: (T0 + 26_000) / 1000, result: 'up' });
    expect(list.find((x) => x.at === (T0 + 10_000) / 1000)).toEqual({ at: (T0 + 10_000) / 1000, result: 'down', reason: 'timeout' });
    expect(list.find((x) => x.at === (T0 + 15_000) / 1000)).toEqual({ at: (T0 + 15_000) / 1000, result: 'down', reason: 'connection_reset' });
    expect(list.find((x) => x.at === (T0 + 14_000) / 1000)!.result).toBe('stale');
    expect(JSON.parse(JSON.stringify({ recent: RecentChecks.of(r) })).recent).toEqual(list);
  });

  it('is empty before the first probe, and a snapshot holds a copy', () => {
    const records = new Map<string, ComponentRecord>([[recordKey('mft', 'a', 'web'), { failures: {} }]]);
    const r = records.get(recordKey('mft', 'a', 'web'))!;
    expect(RecentChecks.of(r).length).toBe(0);
    pushRecent(r, 'up', undefined, T0);
    const copy = RecentChecks.of(r);
    pushRecent(r, 'down', 'timeout', T0 + 1000);
    expect(copy.length).toBe(1);
    expect(RecentChecks.of(r).length).toBe(2);
  });
});
