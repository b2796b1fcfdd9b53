import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { OwnMetrics } from '../../src/metrics/own.js';
import { exposition } from '../../src/metrics/render.js';
import { Monitor } from '../../src/monitor/monitor.js';
import { waitFor } from '../helpers/stack.js';

// One component probed once (the next probe is an hour away): after that first result no
// probe finishes, so only its heartbeat going stale can change the server's state.
describe('the rounds of the monitor', () => {
  let listener: Server;
  let config: Config;
  beforeAll(async () => {
    listener = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    config = parseConfig(
      `clusters:
  - name: c
    heartbeat_interval: 1h
    stale_timeout: 10s
    components: [{ name: web, probe: { tcp: { port: ${port} } } }]
    servers: [{ name: s1, address: 127.0.0.1 }]
`,
      't.yml',
    );
  });
  afterAll(async () => {
    listener.close();
  });

  it('ends its first round (start-up) once every component has a result, not before', async () => {
    const monitor = new Monitor(config, { concurrency: 1, logger: createLogger('error', 'logfmt', { write: () => true }), metrics: new OwnMetrics(false) });
    let ended = false;
    void monitor.firstRound.then(() => (ended = true));
    monitor.start();
    try {
      // start() ran a round, with the one component not probed yet.
      await Promise.resolve();
      expect(ended).toBe(false);
      await monitor.firstRound;
      expect(monitor.ready()).toBe(true);
    } finally {
      await monitor.stop();
    }
    // Nothing to probe (a shard that owns no cluster): the first round is the end of start-up.
    const empty = new Monitor({ ...config, clusters: [] }, { concurrency: 1, logger: createLogger('error', 'logfmt', { write: () => true }), metrics: new OwnMetrics(false) });
    empty.start();
    await empty.firstRound;
    await empty.stop();
  });

  it('gives judgements that refuse to be read once a later round has changed the records', async () => {
    const monitor = new Monitor(config, { concurrency: 1, logger: createLogger('error', 'logfmt', { write: () => true }), metrics: new OwnMetrics(false) });
    monitor.start();
    try {
      await monitor.firstRound;
      const judgement = monitor.judgement();
      expect(judgement.snapshot().clusters[0]!.servers[0]!.state).toBe('online');
      monitor.round();
      // Read before the round: kept. Not read before it: refused, as the records may have changed.
      expect(judgement.snapshot().clusters[0]!.serversTotal).toBe(1);
      expect(() => judgement.clusters()).toThrow(/past round/);
      expect(() => monitor.judgement().clusters()).not.toThrow();
    } finally {
      await monitor.stop();
    }
  });

  it('notices a heartbeat going stale with no new probe result, not a millisecond early', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', 'logfmt', { write: (l: string) => lines.push(l) });
    const monitor = new Monitor(config, { concurrency: 1, logger, metrics: new OwnMetrics(false), phase: 0.5 });
    monitor.start();
    try {
      await waitFor('the first probe', () => (monitor.ready() ? true : undefined));
      const heartbeatMs = monitor.snapshot().clusters[0]!.servers[0]!.components[0]!.lastHeartbeat! * 1000;
      const offline = () => lines.filter((l) => l.includes('server offline'));
      monitor.round(heartbeatMs + 1000);
      monitor.round(heartbeatMs + 10_000);
      expect(offline()).toHaveLength(0);
      expect(monitor.snapshot().clusters[0]!.servers[0]!.state).toBe('online');
      monitor.round(heartbeatMs + 10_001);
      expect(offline()).toHaveLength(1);
      expect(offline()[0]).toMatch(/reason="web: stale"/);
      // The snapshot of that round shows what the log says, and the event is kept.
      expect(monitor.snapshot().clusters[0]!.servers[0]).toMatchObject({ state: 'offline', reason: 'web: stale', since: (heartbeatMs + 10_001) / 1000 });
      expect(monitor.snapshot().recentEvents.map((e) => e.kind)).toEqual(['started']);
      expect(monitor.snapshot().clusters[0]!.recentEvents.map((e) => e.kind)).toEqual(['server_offline', 'component_stale']);
    } finally {
      await monitor.stop();
    }
  });

  it('says a server found Offline at its first judgement as found, not as a fresh change from Online', async () => {
    // A port that refuses: the server is down before the exporter (re)starts.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const lines: string[] = [];
    const logger = createLogger('info', 'logfmt', { write: (l: string) => lines.push(l) });
    const down = parseConfig(
      `clusters:
  - name: c
    heartbeat_interval: 1h
    components: [{ name: web, probe: { tcp: { port: ${port} } } }]
    servers: [{ name: s1, address: 127.0.0.1 }]
`,
      'down.yml',
    );
    const monitor = new Monitor(down, { concurrency: 1, logger, metrics: new OwnMetrics(false) });
    monitor.start();
    try {
      await monitor.firstRound;
      const [offline] = monitor.snapshot().clusters[0]!.recentEvents.filter((e) => e.kind === 'server_offline');
      expect(offline).toMatchObject({ severity: 'info', from: 'pending', to: 'offline', message: 's1 offline when first checked: unreachable (web: connection_refused)' });
      expect(lines.filter((l) => l.includes('server offline'))).toEqual([expect.stringMatching(/ level=info msg="server offline when first checked" .*reason="unreachable \(web: connection_refused\)"/)]);
    } finally {
      await monitor.stop();
    }
  });

  it("claims no breach of an expectation before the cluster's first judgement", async () => {
    const expecting = parseConfig(
      `clusters:
  - name: c
    heartbeat_interval: 1h
    expectations:
      servers_with_fact: [{ name: one_leader, fact: leader, values: ["true"], count: 1 }]
    components: [{ name: web, probe: { http: { url: "http://{address}:1/" } }, facts: { leader: leader } }]
    servers: [{ name: s1, address: 127.0.0.1 }]
`,
      'pending.yml',
    );
    // Not started: every server is pending.
    const monitor = new Monitor(expecting, { concurrency: 1, logger: createLogger('error', 'logfmt', { write: () => true }), metrics: new OwnMetrics(false) });
    let text = '';
    for await (const part of exposition(monitor.judgement(), new OwnMetrics(false).registry)) text += part.toString();
    expect(text).toContain('appcluster_cluster_expectation_min_servers{app_cluster="c",expectation="one_leader"} 1');
    expect(text).not.toMatch(/^appcluster_cluster_expectation_servers\{/m);
  });
});
