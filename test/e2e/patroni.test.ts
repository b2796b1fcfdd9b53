import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus, ComponentStatus } from '../../src/evaluate/snapshot.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { PatroniCluster, PRIMARY_ROLES, psql, type PatroniNode } from '../helpers/patroni.js';
import { value, watch, type WatchingExporter } from '../helpers/real-cluster.js';
import { waitFor } from '../helpers/stack.js';

// A real three-node Patroni cluster (Debian's patroni 3.0 with PostgreSQL 15) on a real
// etcd, watched by the exporter through the `patroni` preset alone, given the cluster's own
// ttl and loop_wait: Patroni's /patroni for `patroni`, PostgreSQL's own answer to the
// preset's query for `postgresql`, Patroni's own /metrics for `metrics`, and exactly one
// primary counted by what each PostgreSQL says of itself (not in recovery).
const DCS = { ttl: 30, loop_wait: 1, retry_timeout: 10 };
const INTERVAL_S = DCS.loop_wait;
// The preset's: four fifths of the interval.
const PROBE_TIMEOUT_MS = 800;

const config = (patroni: PatroniCluster): string => `
clusters:
  - name: patroni
    preset: patroni
    parameters: { ttl: "${DCS.ttl}", loop_wait: "${DCS.loop_wait}" }
    automatic_failover: true
    servers:
${patroni.nodes.map((n) => `      - { name: ${n.name}, address: ${n.address} }`).join('\n')}
`;

let etcd: EtcdCluster | undefined;
let patroni: PatroniCluster | undefined;
let exporter: WatchingExporter | undefined;

beforeAll(async () => {
  const started = Date.now();
  // One etcd member is all the DCS this test needs, and spares the machine two processes.
  etcd = await EtcdCluster.start(1);
  patroni = await PatroniCluster.start(etcd, 3, DCS);
  console.log(`patroni: etcd and three Patroni nodes running in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  exporter = await watch(config(patroni));
}, 150_000);

afterAll(async () => {
  await exporter?.close();
  await patroni?.stop();
  await etcd?.stop();
});

/** The page's automatic failover as configured, on: what maintenance mode must not leave shown. */
const FAILOVER_ON = /<dt>Automatic failover<\/dt><dd>on <span class="muted">\(as configured\)<\/span><\/dd>/;

const component = (c: ClusterStatus, server: string, name: string): ComponentStatus =>
  c.servers.find((s) => s.name === server)!.components.find((x) => x.name === name)!;
const oneprimary = (c: ClusterStatus) => c.expectations.find((e) => e.name === 'one_primary')!;
const roleOf = (c: ClusterStatus, server: string): string | undefined => {
  const p = component(c, server, 'patroni');
  return p.up ? p.facts['role'] : undefined;
};

/** Waits until the exporter sees every node's Patroni up and `primary` as the one primary. */
async function settledOn(primary: PatroniNode): Promise<void> {
  await waitFor(`every Patroni up, ${primary.name} the one primary`, async () => {
    const c = await exporter!.cluster();
    const e = oneprimary(c);
    return c.servers.every((s) => component(c, s.name, 'patroni').up === true) && e.met === true && e.matching[0] === primary.name ? true : undefined;
  }, 30_000);
}

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
  it('every node online, one primary, the Patroni and PostgreSQL versions and the DCS heartbeat', async () => {
    const c = await waitFor(
      'every Patroni node online, exactly one primary',
      async () => {
        const s = await exporter!.cluster();
        return s.serversOnline === patroni!.nodes.length && oneprimary(s).met === true ? s : undefined;
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
      expect(component(c, node.name, 'postgresql').values['replay_backlog_bytes']).toBeGreaterThanOrEqual(0);
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

  // Before the switchover: under a pause Patroni 3.0 still starts the PostgreSQL of a node
  // it once demoted (patroni/ha.py, the "demoted primary" exception), so the node whose
  // PostgreSQL is stopped here must never have been primary.
  describe('in maintenance mode (patronictl pause)', () => {
    beforeAll(async () => {
      // Every member's Patroni metrics read, none in maintenance mode: the state to leave.
      await waitFor('every metrics component up, not paused', async () => {
        const c = await exporter!.cluster();
        return patroni!.nodes.every((n) => component(c, n.name, 'metrics').up === true && component(c, n.name, 'metrics').values['automatic_failover_paused'] === 0) ? c : undefined;
      }, 20_000);
      expect(await exporter!.page()).toMatch(FAILOVER_ON);
      const out = await patronictl('pause', '--wait');
      pausedAt = Date.now();
      console.log(`patroni: ${out.trim().split('\n').pop()}`);
    }, 60_000);
    afterAll(async () => {
      await patronictl('resume', '--wait');
      // Patroni starts the PostgreSQL stopped under the pause once it is over.
      await patroni!.waitRunning();
      await waitFor('maintenance mode over and every node online in the exporter', async () => {
        const c = await exporter!.cluster();
        return c.automaticFailoverPausedBy.length === 0 && c.serversOnline === patroni!.nodes.length ? true : undefined;
      }, 30_000);
    }, 120_000);
    let pausedAt = 0;

    it('is seen within an interval: automatic failover shows paused, not on', async () => {
      const c = await waitFor('maintenance mode in the exporter', async () => {
        const x = await exporter!.cluster();
        return x.automaticFailoverPausedBy.length === patroni!.nodes.length ? x : undefined;
      }, 10_000);
      console.log(`patroni: the exporter saw maintenance mode after ${((Date.now() - pausedAt) / 1000).toFixed(1)} s`);
      expect(Date.now() - pausedAt).toBeLessThan(INTERVAL_S * 1000 + PROBE_TIMEOUT_MS + 1000);
      expect(c.automaticFailover).toBe(true);
      const page = await exporter!.page();
      expect(page).not.toMatch(FAILOVER_ON);
      expect(page).toMatch(/<dt>Automatic failover<\/dt><dd><span class="badge warn"><span aria-hidden="true">⏸<\/span> paused<\/span> maintenance mode /);
      const metrics = await exporter!.metrics();
      for (const node of patroni!.nodes) {
        expect(value(metrics, 'appcluster_component_value', { app_cluster: 'patroni', server: node.name, component: 'metrics', name: 'automatic_failover_paused' })).toBe(1);
        // The postmaster's start time: a restart moves it.
        expect(component(c, node.name, 'metrics').values['postmaster_start_time_seconds']).toBeGreaterThan(Date.now() / 1000 - 3600);
      }
    });

    // Patroni 3.0 resumes a replica's paused replay at its next loop (every second here)
    // unless the cluster is in maintenance mode (patroni/ha.py, handle_parameter_change):
    // only a paused cluster holds replay paused.
    it('replay paused on a replica with writes on the primary: paused shown, and the lag it leaves', async () => {
      const primary: PatroniNode = (await patroni!.primary())!;
      const replica: PatroniNode = patroni!.nodes.find((n) => n !== primary)!;
      const lag = (c: ClusterStatus): number =>
        component(c, primary.name, 'metrics').values['wal_position_bytes']! - component(c, replica.name, 'metrics').values['wal_replayed_position_bytes']!;
      try {
        expect(await psql(replica, 'SELECT pg_wal_replay_pause()')).toBe('');
        // About 10 MB of WAL on the primary, which the replica receives and does not apply.
        expect(await psql(primary, "CREATE TABLE lag_check AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 60000) g; SELECT 1")).toBe('1');
        // The ground truth, by psql: replay stands still, so the primary's position less the
        // replica's replayed one only grows from here; and what the replica has received.
        // PostgreSQL 15 pauses at the next record it would replay: "pause requested" until
        // the primary's WAL arrives, "paused" from then on, its replayed position fixed.
        await waitFor('replay paused on the replica, by psql', async () => ((await psql(replica, 'SELECT pg_get_wal_replay_pause_state()')) === 'paused' ? true : undefined), 20_000);
        const replayed = await psql(replica, 'SELECT pg_last_wal_replay_lsn()');
        const truth = Number(await psql(primary, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${replayed}')::bigint`));
        expect(truth).toBeGreaterThan(5_000_000);
        // The replica streams what the primary wrote and applies none of it.
        const received = await waitFor('the WAL received by the replica, by psql', async () => {
          const n = Number(await psql(replica, 'SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint'));
          return n > 5_000_000 ? n : undefined;
        }, 20_000);
        let last = '';
        const c = await waitFor('the lag and the backlog in the exporter', async () => {
          const x = await exporter!.cluster();
          const backlog = component(x, replica.name, 'postgresql').values['replay_backlog_bytes'] ?? NaN;
          const paused = component(x, replica.name, 'metrics').values['wal_replay_paused'];
          last = `lag ${lag(x)}, backlog ${backlog}, paused ${paused}`;
          return lag(x) >= truth && backlog >= received && paused === 1 ? x : undefined;
        }, 20_000).catch(async (err: Error) => {
          throw new Error(`${err.message}: ${truth} bytes behind and ${received} received by psql; the exporter: ${last}; replay ${await psql(replica, 'SELECT pg_get_wal_replay_pause_state()')} by psql`);
        });
        console.log(`patroni: replay paused on ${replica.name}: ${truth} bytes behind and ${received} received, by psql; by the exporter ${lag(c)} behind the primary, ${component(c, replica.name, 'postgresql').values['replay_backlog_bytes']} received and not replayed`);
        expect(component(c, replica.name, 'metrics').values['wal_replay_paused']).toBe(1);
        expect(component(c, primary.name, 'metrics').values['wal_replay_paused']).toBe(0);
        expect(component(c, primary.name, 'metrics').values['primary']).toBe(1);
        expect(component(c, replica.name, 'metrics').values['primary']).toBe(0);
        expect(component(c, primary.name, 'postgresql').values['replay_backlog_bytes']).toBe(0);
        // On the page: the backlog among the replica's values.
        expect(await exporter!.page()).toMatch(/data-fact="replay_backlog_bytes">replay_backlog_bytes <b>[1-9]\d{6,}<\/b>/);
      } finally {
        await psql(replica, 'SELECT pg_wal_replay_resume()');
      }
      await waitFor('replay resumed and caught up in the exporter', async () => {
        const x = await exporter!.cluster();
        return component(x, replica.name, 'metrics').values['wal_replay_paused'] === 0 && lag(x) < 1_000_000 &&
          component(x, replica.name, 'postgresql').values['replay_backlog_bytes']! < 1_000_000 ? true : undefined;
      }, 30_000);
      await psql(primary, 'DROP TABLE lag_check');
    }, 90_000);

    it('PostgreSQL stopped on a replica: postgresql down, patroni up saying so, the server Offline', async () => {
      const primary: PatroniNode = (await patroni!.primary())!;
      const replica: PatroniNode = patroni!.nodes.filter((n) => n !== primary)[1]!;
      await patroni!.stopPostgres(replica);
      const stoppedAt = Date.now();
      let seen = '';
      const c = await waitFor(`${replica.name}'s postgresql down`, async () => {
        const x = await exporter!.cluster();
        const pg = component(x, replica.name, 'postgresql');
        seen = JSON.stringify({ postgresql: pg, patroni: component(x, replica.name, 'patroni') });
        // Refused once PostgreSQL is gone: a query in flight at the shutdown ends otherwise.
        return pg.reason === 'connection_refused' && component(x, replica.name, 'patroni').facts['state'] === 'stopped' ? x : undefined;
      }, 20_000).catch((err: Error) => {
        throw new Error(`${err.message}; last seen ${seen}\n${replica.process?.output().slice(-4000)}`);
      });
      console.log(`patroni: ${replica.name}'s PostgreSQL stopped; the exporter saw it after ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s`);
      expect(component(c, replica.name, 'postgresql').reason).toBe('connection_refused');
      expect(component(c, replica.name, 'patroni')).toMatchObject({ up: true, facts: { role: 'replica', state: 'stopped' } });
      expect(c.servers.find((s) => s.name === replica.name)!.state).toBe('offline');
      // The primary is still the one primary; under the pause Patroni leaves the replica stopped.
      expect(oneprimary(c)).toMatchObject({ met: true, matching: [primary.name] });
      expect(psqlGone(await psql(replica, 'SELECT 1', 10_000))).toBe(true);
    }, 60_000);
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

  it('Patroni killed on a replica: patroni down, postgresql up and still a standby, the server Online', async () => {
    const primary: PatroniNode = (await patroni!.primary())!;
    const replica: PatroniNode = patroni!.nodes.find((n) => n !== primary)!;
    await settledOn(primary);
    await replica.process!.kill('SIGKILL');
    try {
      const c = await waitFor(`${replica.name}'s patroni down`, async () => {
        const x = await exporter!.cluster();
        // Refused once Patroni is gone: a probe in flight at the kill is reset instead.
        return component(x, replica.name, 'patroni').reason === 'connection_refused' ? x : undefined;
      }, 10_000);
      expect(component(c, replica.name, 'postgresql')).toMatchObject({ up: true, facts: { in_recovery: 'true' } });
      expect(c.servers.find((s) => s.name === replica.name)!.state).toBe('online');
      expect(oneprimary(c)).toMatchObject({ met: true, matching: [primary.name] });
      // The ground truth, through psql: PostgreSQL runs on, a standby.
      expect(await psql(replica, 'SELECT pg_is_in_recovery()')).toBe('t');
    } finally {
      await patroni!.relaunch(replica);
    }
    await waitFor(`${replica.name}'s patroni up again`, async () => (component(await exporter!.cluster(), replica.name, 'patroni').up === true ? true : undefined), 20_000);
  }, 120_000);

  // Last: it leaves the cluster split.
  it('Patroni killed on the primary, PostgreSQL left running: two writable primaries break exactly one primary within an interval', async () => {
    const old: PatroniNode = (await patroni!.primary())!;
    await settledOn(old);
    // Patroni alone: the postmaster runs in a session of its own and outlives it.
    await old.process!.kill('SIGKILL');
    const killedAt = Date.now();
    // Patroni's own component is down at once, PostgreSQL's stays up: each names its process.
    const c = await waitFor(`${old.name}'s patroni down`, async () => {
      const x = await exporter!.cluster();
      // Refused once Patroni is gone: a probe in flight at the kill is reset instead.
      return component(x, old.name, 'patroni').reason === 'connection_refused' ? x : undefined;
    }, 10_000);
    expect(component(c, old.name, 'postgresql')).toMatchObject({ up: true, facts: { in_recovery: 'false' } });
    // The ground truth, through psql: a replica promoted once the leader lock expired
    // (ttl 30 s), while the old primary still takes writes.
    const others = patroni!.nodes.filter((n) => n !== old);
    const split = await waitFor('two PostgreSQLs writable, by psql', async () => {
      const writable = await Promise.all(patroni!.nodes.map(async (n) => ((await psql(n, 'SELECT pg_is_in_recovery()', 10_000)) === 'f' ? n : undefined)));
      const promoted = others.find((n) => writable.includes(n));
      return writable.includes(old) && promoted ? { at: Date.now(), promoted } : undefined;
    }, 90_000);
    expect(await psql(old, 'CREATE TABLE split_brain_check (i int); DROP TABLE split_brain_check; SELECT 1')).toBe('1');
    const breached = await waitFor('exactly one primary breached', async () => {
      const e = oneprimary(await exporter!.cluster());
      return e.met === false && e.servers === 2 ? { at: Date.now(), e } : undefined;
    }, 10_000);
    console.log(
      `patroni: ${old.name}'s Patroni killed; ${old.name} and ${split.promoted.name} writable by psql after ${((split.at - killedAt) / 1000).toFixed(1)} s; ` +
        `the exporter saw two primaries ${((breached.at - split.at) / 1000).toFixed(1)} s after psql`,
    );
    expect(breached.e.matching).toEqual([old.name, split.promoted.name].sort());
    // Within one interval and a probe's deadline of psql's view, with a second for the round and this poll.
    expect(breached.at - split.at).toBeLessThan(INTERVAL_S * 1000 + PROBE_TIMEOUT_MS + 1000);
  }, 150_000);
});

/** Whether psql's answer says the server is not there (connection refused, or no socket). */
function psqlGone(answer: string): boolean {
  return /^error: .*(Connection refused|could not connect|No such file)/is.test(answer);
}

/** Runs patronictl against the cluster with the first node's configuration; its output, or throws. */
function patronictl(...args: string[]): Promise<string> {
  const node = patroni!.nodes[0]!;
  return new Promise((resolve, reject) => {
    execFile('patronictl', ['-c', join(node.dir, 'patroni.yml'), args[0]!, 'appcluster-e2e', ...args.slice(1)], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`patronictl ${args.join(' ')}: ${stderr || stdout || err.message}`));
      else resolve(stdout);
    });
  });
}
