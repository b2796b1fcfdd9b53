import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus, ComponentStatus } from '../../src/evaluate/snapshot.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { PatroniCluster, PG_PORT, postgresBinDir, PRIMARY_ROLES, REST_PORT, type PatroniNode } from '../helpers/patroni.js';
import { value, watch, type WatchingExporter } from '../helpers/real-cluster.js';
import { waitFor } from '../helpers/stack.js';

// A real two-node Patroni cluster (Debian's patroni 3.0 with PostgreSQL 15) on a real etcd,
// watched by the exporter. The configuration is what the `patroni` preset supplies,
// written out: Patroni's /patroni (Patroni's version, dcs_last_seen as the heartbeat, role
// and PostgreSQL's state as facts) for `patroni`, PostgreSQL's own answer to the preset's
// query for `postgresql`, Patroni's own /metrics for `metrics` (maintenance mode, replay
// paused, WAL positions, the postmaster's start time), and exactly one primary counted by what each PostgreSQL says of
// itself (not in recovery).
const INTERVAL_S = 1;
const PROBE_TIMEOUT_MS = 700;

const config = (patroni: PatroniCluster): string => `
clusters:
  - name: patroni
    heartbeat_interval: ${INTERVAL_S}s
    probe_timeout: ${PROBE_TIMEOUT_MS}ms
    stale_timeout: 10s
    automatic_failover: true
    expectations:
      servers_with_fact:
        - { name: one_primary, fact: in_recovery, values: ["false"], count: 1 }
    endpoints:
      patroni:
        http: { url: "http://{address}:${REST_PORT}/patroni" }
      postgresql:
        postgres: { port: ${PG_PORT}, user: postgres }
      metrics:
        prometheus: { url: "http://{address}:${REST_PORT}/metrics" }
    components:
      - name: patroni
        endpoint: patroni
        required: false
        version: patroni.version
        heartbeat: dcs_last_seen
        facts: { role: role, state: state }
      - name: postgresql
        endpoint: postgresql
        version: server_version
        facts: { in_recovery: in_recovery }
      - name: metrics
        endpoint: metrics
        required: false
        values:
          automatic_failover_paused: patroni_is_paused.value
          wal_replay_paused: patroni_xlog_paused.value
          postmaster_start_time_seconds: patroni_postmaster_start_time.value
          primary: patroni_primary.value
          wal_position_bytes: patroni_xlog_location.value
          wal_replayed_position_bytes: patroni_xlog_replayed_location.value
    servers:
${patroni.nodes.map((n) => `      - { name: ${n.name}, address: ${n.address} }`).join('\n')}
`;

let etcd: EtcdCluster | undefined;
let patroni: PatroniCluster | undefined;
let exporter: WatchingExporter | undefined;

beforeAll(async () => {
  const started = Date.now();
  // One etcd member is all the DCS a two-node test needs, and spares the machine two processes.
  etcd = await EtcdCluster.start(1);
  patroni = await PatroniCluster.start(etcd, 2);
  console.log(`patroni: etcd and two Patroni nodes running in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  exporter = await watch(config(patroni));
}, 150_000);

afterAll(async () => {
  await exporter?.close();
  await patroni?.stop();
  await etcd?.stop();
});

const component = (c: ClusterStatus, server: string, name: string): ComponentStatus =>
  c.servers.find((s) => s.name === server)!.components.find((x) => x.name === name)!;
const oneprimary = (c: ClusterStatus) => c.expectations.find((e) => e.name === 'one_primary')!;
const roleOf = (c: ClusterStatus, server: string): string | undefined => {
  const p = component(c, server, 'patroni');
  return p.up ? p.facts['role'] : undefined;
};

/** Waits until every Patroni component has been probed `n` more times than when called. */
async function probedAgain(n: number): Promise<void> {
  const first = await exporter!.cluster();
  const since = Object.fromEntries(first.servers.map((s) => [s.name, component(first, s.name, 'patroni').lastProbe ?? 0]));
  await waitFor(
    `${n} more probes of every node`,
    async () => {
      const c = await exporter!.cluster();
      return c.servers.every((s) => (component(c, s.name, 'patroni').lastProbe ?? 0) >= since[s.name]! + (n - 0.5) * INTERVAL_S) ? true : undefined;
    },
    (n + 10) * INTERVAL_S * 1000,
  );
}

describe('a real Patroni cluster', () => {
  it('both nodes online, one primary, the Patroni and PostgreSQL versions and the DCS heartbeat', async () => {
    const c = await waitFor(
      'both Patroni nodes online, exactly one primary',
      async () => {
        const s = await exporter!.cluster();
        return s.serversOnline === 2 && oneprimary(s).met === true ? s : undefined;
      },
      20_000,
    );
    const primary = (await patroni!.primary())!;
    expect(oneprimary(c).matching).toEqual([primary.name]);
    for (const node of patroni!.nodes) {
      const own = (await patroni!.state(node))!;
      const p = component(c, node.name, 'patroni');
      expect(p.version).toBe(own.patroni!.version);
      // PostgreSQL's own words (15.14 ...) for Patroni's number (150014).
      expect(component(c, node.name, 'postgresql').version).toMatch(new RegExp(`^${Math.floor(own.server_version! / 10000)}\\.${own.server_version! % 10000}\\b`));
      expect(component(c, node.name, 'postgresql').facts).toEqual({ in_recovery: node === primary ? 'false' : 'true' });
      expect(p.heartbeatProblem).toBeNull();
      expect(p.lastHeartbeat).toBeGreaterThan(Date.now() / 1000 - 10);
      expect(roleOf(c, node.name)).toBe(node === primary ? own.role : 'replica');
      expect(p.facts['state']).toBe('running');
    }
    const page = await exporter!.metrics();
    for (const node of patroni!.nodes) {
      for (const name of ['patroni', 'postgresql']) {
        expect(value(page, 'appcluster_component_version_in_sync', { app_cluster: 'patroni', server: node.name, component: name })).toBe(1);
      }
    }
    expect(value(page, 'appcluster_cluster_expectation_servers', { app_cluster: 'patroni', expectation: 'one_primary' })).toBe(1);
    expect(value(page, 'appcluster_cluster_expectation_member_info', { app_cluster: 'patroni', expectation: 'one_primary', server: primary.name })).toBe(1);
  });

  it('a switchover moves the role fact; exactly one primary holds outside the switchover window', async () => {
    const from: PatroniNode = (await patroni!.primary())!;
    const to: PatroniNode = patroni!.nodes.find((n) => n !== from)!;

    // Every answer of the API from here on, with when it was asked for and when it came:
    // one that came before the switchover began judged the state before it, and one asked
    // for after the exporter was seen settled judged the state after (judgements only move on).
    const seen: { sent: number; received: number; met: boolean | null; matching: readonly string[] }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const sent = Date.now();
        const e = oneprimary(await exporter!.cluster());
        seen.push({ sent, received: Date.now(), met: e.met, matching: e.matching });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await probedAgain(3);
      const startedAt = Date.now();
      const answer = await patroni!.switchover(from, to);
      const answeredAt = Date.now();
      const settled = await waitFor(
        `${to.name} primary and ${from.name} replica in the exporter`,
        async () => {
          const c = await exporter!.cluster();
          return PRIMARY_ROLES.includes(roleOf(c, to.name) ?? '') && roleOf(c, from.name) === 'replica' && oneprimary(c).met === true ? c : undefined;
        },
        30_000,
      );
      const settledAt = Date.now();
      await probedAgain(3);
      sampling = false;
      await sampler;

      console.log(
        `patroni: switchover ${from.name} -> ${to.name}: answered in ${((answeredAt - startedAt) / 1000).toFixed(1)} s (${answer.trim()}), ` +
          `settled in the exporter after ${((settledAt - startedAt) / 1000).toFixed(1)} s; ` +
          `${seen.filter((s) => s.met === false).length} of ${seen.length} API answers without exactly one primary, all inside the window`,
      );
      expect(oneprimary(settled).matching).toEqual([to.name]);
      expect((await patroni!.primary())?.name).toBe(to.name);
      const before = seen.filter((x) => x.received < startedAt);
      const after = seen.filter((x) => x.sent > settledAt);
      expect(before.length).toBeGreaterThan(0);
      expect(after.length).toBeGreaterThan(0);
      for (const s of before) expect(s).toMatchObject({ met: true, matching: [from.name] });
      for (const s of after) expect(s).toMatchObject({ met: true, matching: [to.name] });
      expect(exporter!.logLines.join('')).toMatch(new RegExp(`msg="fact changed" app_cluster=patroni server=${to.name} component=patroni fact=role from=replica to=(${PRIMARY_ROLES.join('|')})`));
    } finally {
      sampling = false;
      await sampler.catch(() => {});
    }
  }, 120_000);

  it('maintenance mode (patronictl pause) is seen within an interval: automatic failover shows paused, not on', async () => {
    await probedAgain(1);
    const before = await exporter!.cluster();
    expect(before.automaticFailoverPausedBy).toEqual([]);
    expect(await exporter!.page()).toMatch(/<dt>Automatic failover<\/dt><dd>on<\/dd>/);
    for (const node of patroni!.nodes) {
      const m = component(before, node.name, 'metrics');
      expect(m.values['automatic_failover_paused']).toBe(0);
      // The postmaster's start time: a restart moves it.
      expect(m.values['postmaster_start_time_seconds']).toBeGreaterThan(Date.now() / 1000 - 3600);
    }
    try {
      const out = patronictl('pause', '--wait');
      const pausedAt = Date.now();
      const c = await waitFor('maintenance mode in the exporter', async () => {
        const x = await exporter!.cluster();
        return x.automaticFailoverPausedBy.length === patroni!.nodes.length ? x : undefined;
      }, 10_000);
      console.log(`patroni: ${out.trim().split('\n').pop()}; the exporter saw maintenance mode after ${((Date.now() - pausedAt) / 1000).toFixed(1)} s`);
      expect(Date.now() - pausedAt).toBeLessThan(INTERVAL_S * 1000 + PROBE_TIMEOUT_MS + 1000);
      expect(c.automaticFailover).toBe(true);
      const page = await exporter!.page();
      expect(page).not.toMatch(/<dt>Automatic failover<\/dt><dd>on<\/dd>/);
      expect(page).toContain('paused: maintenance mode');
      const metrics = await exporter!.metrics();
      for (const node of patroni!.nodes) {
        expect(value(metrics, 'appcluster_component_value', { app_cluster: 'patroni', server: node.name, component: 'metrics', name: 'automatic_failover_paused' })).toBe(1);
      }
    } finally {
      patronictl('resume', '--wait');
    }
    await waitFor('maintenance mode over in the exporter', async () => ((await exporter!.cluster()).automaticFailoverPausedBy.length === 0 ? true : undefined), 10_000);
  }, 60_000);

  // Last: it leaves the cluster split.
  it('Patroni killed on the primary, PostgreSQL left running: two writable primaries break exactly one primary within an interval', async () => {
    const old: PatroniNode = (await patroni!.primary())!;
    const other: PatroniNode = patroni!.nodes.find((n) => n !== old)!;
    await probedAgain(2);
    // Patroni alone: the postmaster runs in a session of its own and outlives it.
    await old.process!.kill('SIGKILL');
    const killedAt = Date.now();
    // Patroni's own component is down at once, PostgreSQL's stays up: each names its process.
    const c = await waitFor(`${old.name}'s patroni down`, async () => {
      const x = await exporter!.cluster();
      return component(x, old.name, 'patroni').up === false ? x : undefined;
    }, 10_000);
    expect(component(c, old.name, 'patroni').reason).toBe('connection_refused');
    expect(component(c, old.name, 'postgresql')).toMatchObject({ up: true, facts: { in_recovery: 'false' } });
    // The ground truth, through psql: the other node promoted once the leader lock expired
    // (ttl 30 s), while the old primary still takes writes.
    const bothAt = await waitFor('both PostgreSQLs writable, by psql', () => {
      const writable = [old, other].map((n) => psql(n, 'SELECT pg_is_in_recovery()') === 'f');
      return writable.every(Boolean) ? Date.now() : undefined;
    }, 90_000);
    expect(psql(old, 'CREATE TABLE split_brain_check (i int); DROP TABLE split_brain_check; SELECT 1')).toBe('1');
    const breached = await waitFor('exactly one primary breached', async () => {
      const e = oneprimary(await exporter!.cluster());
      return e.met === false && e.servers === 2 ? { at: Date.now(), e } : undefined;
    }, 10_000);
    console.log(
      `patroni: ${old.name}'s Patroni killed; both PostgreSQLs writable by psql after ${((bothAt - killedAt) / 1000).toFixed(1)} s; ` +
        `the exporter saw two primaries ${((breached.at - bothAt) / 1000).toFixed(1)} s after psql`,
    );
    expect(breached.e.matching).toEqual([old.name, other.name].sort());
    // Within one interval and a probe's deadline of psql's view, with a second for the round and this poll.
    expect(breached.at - bothAt).toBeLessThan(INTERVAL_S * 1000 + PROBE_TIMEOUT_MS + 1000);
  }, 150_000);
});

/** Runs patronictl against the cluster with the first node's configuration; its output, or throws. */
function patronictl(...args: string[]): string {
  const node = patroni!.nodes[0]!;
  const r = spawnSync('patronictl', ['-c', join(node.dir, 'patroni.yml'), args[0]!, 'appcluster-e2e', ...args.slice(1)], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`patronictl ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Runs SQL on a node's PostgreSQL through psql over loopback (trusted there), tuples only. */
function psql(node: PatroniNode, sql: string): string {
  const r = spawnSync(join(postgresBinDir(), 'psql'), ['-h', node.address, '-p', String(PG_PORT), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-c', sql], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r.status === 0 ? r.stdout.trim() : `error: ${r.stderr.trim()}`;
}
