import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus, ComponentStatus } from '../../src/evaluate/snapshot.js';
import { EtcdCluster } from '../helpers/etcd.js';
import { PatroniCluster } from '../helpers/patroni.js';
import { value, watch, type WatchingExporter } from '../helpers/real-cluster.js';
import { waitFor } from '../helpers/stack.js';

// Issue 29, item 4: the patroni preset's timing from the cluster's own ttl and loop_wait.
// A real one-node Patroni (Debian's patroni 3.0) bootstrapped with ttl 20, not Patroni's
// default 30, watched through the preset with the two values it answers on GET /config:
// the `patroni` component goes stale when the leader lock expires (ttl), not 10 s later.
const DCS = { ttl: 20, loop_wait: 2, retry_timeout: 5 };
// Scheduling slack on a 2-core machine that runs other test files at the same time.
const SLACK_S = 3;

let etcd: EtcdCluster | undefined;
let patroni: PatroniCluster | undefined;
let exporter: WatchingExporter | undefined;
let config: { ttl: number; loop_wait: number } | undefined;

beforeAll(async () => {
  etcd = await EtcdCluster.start(1);
  patroni = await PatroniCluster.start(etcd, 1, DCS);
  const node = patroni.nodes[0]!;
  // Patroni answers 502 (an HTML page) until it has read the configuration from the DCS.
  config = await waitFor('GET /config answered', async () => {
    const res = await fetch(`${node.apiUrl}/config`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as { ttl: number; loop_wait: number }) : undefined;
  }, 30_000);
  exporter = await watch(`
clusters:
  - name: patroni
    preset: patroni
    parameters: { ttl: "${config.ttl}", loop_wait: "${config.loop_wait}" }
    servers:
      - { name: ${node.name}, address: ${node.address} }
`);
}, 150_000);

afterAll(async () => {
  await exporter?.close();
  await patroni?.stop();
  await etcd?.stop();
});

const patroniOf = (c: ClusterStatus): ComponentStatus => c.servers[0]!.components.find((x) => x.name === 'patroni')!;

describe("the patroni preset's timing from a real cluster's ttl 20", () => {
  it('is the stale timeout and the heartbeat interval, on the API and /metrics', async () => {
    expect(config).toMatchObject({ ttl: DCS.ttl, loop_wait: DCS.loop_wait });
    const c = await waitFor('the Patroni node online', async () => {
      const s = await exporter!.cluster();
      return s.serversOnline === 1 && patroniOf(s).state === 'up' ? s : undefined;
    }, 30_000);
    expect(c).toMatchObject({ staleTimeoutSeconds: DCS.ttl, heartbeatIntervalSeconds: DCS.loop_wait });
    expect(patroniOf(c).staleTimeoutSeconds).toBe(DCS.ttl);
    const page = await exporter!.metrics();
    expect(value(page, 'appcluster_component_stale_timeout_seconds', { app_cluster: 'patroni', server: 'pg-1', component: 'patroni' })).toBe(DCS.ttl);
  });

  it('a member cut off from the DCS is stale once its ttl has passed, not 30 s', async () => {
    // The DCS frozen: Patroni's REST API still answers, and its dcs_last_seen stops moving.
    const member = etcd!.members[0]!.name;
    const frozenAt = Date.now();
    etcd!.freeze(member);
    try {
      const staleAt = await waitFor('the patroni component stale', async () => {
        const s = await exporter!.cluster();
        return patroniOf(s).state === 'stale' ? Date.now() : undefined;
      }, 40_000);
      const seconds = (staleAt - frozenAt) / 1000;
      console.log(`patroni: DCS frozen to stale in ${seconds.toFixed(1)} s (ttl ${DCS.ttl} s, loop_wait ${DCS.loop_wait} s)`);
      // dcs_last_seen was at most one loop old when the DCS froze; stale is judged at the next probe.
      expect(seconds).toBeGreaterThanOrEqual(DCS.ttl - DCS.loop_wait);
      expect(seconds).toBeLessThan(DCS.ttl + 2 * DCS.loop_wait + SLACK_S);
    } finally {
      etcd!.thaw(member);
    }
  }, 60_000);
});
