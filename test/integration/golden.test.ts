import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { componentCount } from '../../src/config/shard.js';
import { evaluate, Judgement, type History } from '../../src/evaluate/evaluate.js';
import { OwnMetrics } from '../../src/metrics/own.js';
import { exposition, wholeExposition } from '../../src/metrics/render.js';
import { renderSnapshotWithPromClient } from '../helpers/prom-client-render.js';
import { recordsFor } from '../helpers/records.js';
import { run } from '../helpers/tools.js';

const golden = join(import.meta.dirname, '../fixtures/golden/metrics.txt');
const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
// The monitor's memory of when each server entered its state: offline servers export it.
const HISTORY: History = { since: (_cluster, server) => NOW - (server === 'mft-b' ? 20_000 : 1_000), recentEvents: () => [] };

const config = parseConfig(
  `clusters:
  - name: mft-prod
    heartbeat_interval: 15s
    load_balancing: true
    automatic_failover: true
    expectations: { min_servers_online: 2 }
    endpoints:
      api: { http: { url: "https://{address}:8444/api/v2.0/status" } }
    components:
      - { name: web, stale_timeout: 24h, probe: { tcp: { port: 443 } } }
      - { name: service, endpoint: api, status: status, values: { active_transfers: stats.active }, facts: { tm_state: tm } }
    servers:
      - { name: mft-a, address: 10.0.0.1 }
      - { name: mft-b, address: 10.0.0.2 }
      - { name: mft-dr, address: 10.1.0.1, site: dr, role: standby, components: { service: { required: false } } }
  - name: ci
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: ci-1, address: ci-1.internal }]
  - name: pg
    automatic_failover: false
    components: [{ name: patroni, probe: { http: { url: "http://{address}:8008/patroni" } }, facts: { role: role } }]
    servers: [{ name: pg-1, address: 10.2.0.1 }, { name: pg-2, address: 10.2.0.2 }]
    expectations:
      servers_with_fact: [{ name: one_primary, fact: role, values: [primary, master], count: 1 }]
`,
  'golden.yml',
);

type Ok = Parameters<ReturnType<typeof recordsFor>['set']>[3];
const OK: Ok = { success: true, finishedMs: NOW - 3000, durationMs: 4, version: '8.6.2', keyHash: 'aaaa', heartbeatMs: NOW - 5000, os: 'Linux 6.1' };

/**
 * A fixed scenario: mft-b's service refuses connections, mft-dr drifted, ci-1 not probed
 * yet; mft-a reports a workload figure and a fact over TLS (its certificate expires in 10
 * days); both pg servers report role primary.
 */
function scenario(ok: Ok = OK) {
  const { records, set } = recordsFor(config);
  set('mft-prod', 'mft-a', 'web', ok);
  set('mft-prod', 'mft-a', 'service', { ...ok, values: { active_transfers: 12 }, facts: { tm_state: 'Running' }, certNotAfterMs: NOW + 10 * 86_400_000 });
  set('pg', 'pg-1', 'patroni', { ...ok, facts: { role: 'primary' } });
  set('pg', 'pg-2', 'patroni', { ...ok, facts: { role: 'primary' } });
  set('mft-prod', 'mft-b', 'web', ok);
  set('mft-prod', 'mft-b', 'service', { success: false, reason: 'timeout', finishedMs: NOW - 20_000, durationMs: 5000 });
  set('mft-prod', 'mft-b', 'service', { success: false, reason: 'connection_refused', finishedMs: NOW - 2000, durationMs: 1 });
  set('mft-prod', 'mft-dr', 'web', { ...ok, version: '8.5.0', keyHash: 'bbbb', os: 'Windows Server 2022' });
  set('mft-prod', 'mft-dr', 'service', { success: false, reason: 'connection_refused', finishedMs: NOW - 1000, durationMs: 1 });
  const own = new OwnMetrics(false);
  own.reloaded(true, NOW);
  own.sharded(0, 1, config.clusters.length, componentCount(config.clusters));
  return { records, own };
}

async function page(): Promise<string> {
  const { records, own } = scenario();
  // Build facts differ between machines; everything else is fixed by the scenario.
  return (await wholeExposition(new Judgement(config, records, NOW, HISTORY), own.registry)).toString().replace(
    /appcluster_exporter_build_info\{version="[^"]*",node_version="[^"]*"\}/,
    'appcluster_exporter_build_info{version="VERSION",node_version="NODE"}',
  );
}

describe('/metrics of a fixed scenario', () => {
  it('matches the golden file', async () => {
    const text = await page();
    if (process.env['UPDATE_GOLDEN']) writeFileSync(golden, text);
    expect(text).toBe(readFileSync(golden, 'utf8'));
  });

  it('passes promtool check metrics', async () => {
    const result = run('promtool', ['check', 'metrics'], await page());
    expect(result.out).toBe('');
    expect(result.status).toBe(0);
  });

  it('is the same text in parts of any size, each part left as it was when the next is written', async () => {
    const { records, own } = scenario();
    const whole = (await wholeExposition(new Judgement(config, records, NOW, HISTORY), own.registry)).toString();
    for (const partBytes of [1, 100, 4096]) {
      const parts: Buffer[] = [];
      const texts: string[] = [];
      for await (const part of exposition(new Judgement(config, records, NOW, HISTORY), own.registry, partBytes)) {
        parts.push(part);
        texts.push(part.toString());
        // A turn of the event loop between parts, as a socket's back-pressure gives.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      expect([partBytes, texts.join('')]).toEqual([partBytes, whole]);
      expect(parts.map((p) => p.toString())).toEqual(texts);
      if (partBytes < 4096) expect(parts.length).toBeGreaterThan(3);
    }
  });

  it('is the text prom-client writes for the snapshot of the same judgement, escaping and number format included', async () => {
    // Label values that need escaping, a fractional duration, and three instants: fresh, stale, far on.
    const { records, own } = scenario({ ...OK, durationMs: 4.25, version: '8.6.2 "q" \\ x\ny', os: 'Linux "6.1"\\' });
    for (const now of [NOW, NOW + 90_000, NOW + 1e9]) {
      // The status page's and the API's snapshot, rendered by prom-client; /metrics is written from the records.
      const reference = await Registry.merge([renderSnapshotWithPromClient(evaluate(config, records, now, HISTORY)), own.registry]).metrics();
      expect((await wholeExposition(new Judgement(config, records, now, HISTORY), own.registry)).toString()).toBe(reference);
    }
  });
});
