import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECENT_CHECKS } from '../../src/evaluate/recent.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { EVENTS_PER_CLUSTER, type EventPage, type LoggedEvent } from '../../src/monitor/event-log.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { randomBase, startStack, tempDir, waitFor, type Stack } from '../helpers/stack.js';

const quiet = () => createLogger('error', 'logfmt', { write: () => {} });

async function page(url: string, query = ''): Promise<EventPage> {
  const res = await fetch(`${url}/api/v1/events${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: EventPage }).data;
}

/** The events kept, newest first. */
async function events(url: string, query = ''): Promise<LoggedEvent[]> {
  return [...(await page(url, query)).events].reverse();
}

/** Polls `url` every 10 ms until it answers 200; the milliseconds that took. */
async function msUntil200(url: string, since: number, limitMs = 10_000): Promise<number> {
  for (;;) {
    if ((await fetch(url)).status === 200) return performance.now() - since;
    if (performance.now() - since > limitMs) throw new Error(`${url} not 200 within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the first round', () => {
  it('makes /-/ready answer after the first round, well within the interval, on the demo configuration', async () => {
    const base = randomBase();
    const sim = new SimCluster({ servers: 3, components: [{ name: 'web', port: 8080 }, { name: 'service', port: 8081 }], baseAddress: base });
    await sim.start();
    const dir = await tempDir();
    const configFile = join(dir, 'demo.yml');
    // examples/demo.yml as `npm start` runs it (10 s heartbeat), on addresses of this test's own.
    const demo = readFileSync(join(import.meta.dirname, '../../examples/demo.yml'), 'utf8');
    await writeFile(configFile, demo.replaceAll('127.0.10.', base.replace(/\d+$/, '')).replace('../config.schema.json', 'x.json'));
    const started = performance.now();
    const exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', enableLifecycle: true, logger: quiet() });
    try {
      const ms = await msUntil200(`${exporter.url}/-/ready`, started);
      console.log(`demo configuration: /-/ready after ${ms.toFixed(0)} ms (heartbeat interval 10 s)`);
      // Ready once every component has its first answer, not after the 10 s interval (a busy machine takes seconds).
      expect(ms).toBeLessThan(5000);
      const status = ((await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: { serversPending: number; serversOnline: number }[] } }).data;
      expect(status.clusters[0]).toMatchObject({ serversPending: 0, serversOnline: 3 });
    } finally {
      await exporter.close();
      await sim.stop();
    }
  });

  describe('with an hour between probes', () => {
    // Every request waits 150 ms, so concurrent requests overlap and can be counted.
    let server: Server;
    let port: number;
    let inFlight = 0;
    let most = 0;
    const seen = new Map<string, number>();
    beforeAll(async () => {
      server = createServer((req, res) => {
        inFlight++;
        most = Math.max(most, inFlight);
        seen.set(req.url ?? '', (seen.get(req.url ?? '') ?? 0) + 1);
        setTimeout(() => {
          inFlight--;
          res.end('{}');
        }, 150);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => {
      server.closeAllConnections();
      server.close();
    });

    const config = (components: number, servers = ['s1']) => `clusters:
  - name: hourly
    heartbeat_interval: 1h
    probe_timeout: 5s
    components:
${Array.from({ length: components }, (_, i) => `      - { name: c${i}, probe: { http: { url: "http://{address}:${port}/{name}/c${i}" } } }`).join('\n')}
    servers:
${servers.map((s) => `      - { name: ${s}, address: 127.0.0.1 }`).join('\n')}
`;

    it('probes every component at once, no more at a time than --probe.concurrency, then a reload adds one and it is probed at once', async () => {
      const dir = await tempDir();
      const configFile = join(dir, 'hourly.yml');
      await writeFile(configFile, config(12));
      const started = performance.now();
      const exporter: RunningExporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', enableLifecycle: true, concurrency: 3, logger: quiet() });
      try {
        const ms = await msUntil200(`${exporter.url}/-/ready`, started);
        console.log(`12 components at concurrency 3, 150 ms each: /-/ready after ${ms.toFixed(0)} ms`);
        expect(most).toBe(3);
        expect(seen.size).toBe(12);
        // Four waves of 150 ms: seconds at most on a busy machine, where without the first round it would be an hour.
        expect(ms).toBeLessThan(10_000);

        await writeFile(configFile, config(12, ['s1', 's2']));
        const reloaded = performance.now();
        expect((await fetch(`${exporter.url}/-/reload`, { method: 'POST' })).status).toBe(200);
        // The new server's twelve components: not ready until each is probed, at once.
        const again = await msUntil200(`${exporter.url}/-/ready`, reloaded);
        expect(again).toBeLessThan(10_000);
        expect([...seen.keys()].filter((k) => k.startsWith('/s2/'))).toHaveLength(12);
        expect(most).toBe(3);
        // The old server's endpoints keep their schedule: not probed again by the reload.
        expect([...seen].filter(([k, n]) => k.startsWith('/s1/') && n !== 1)).toEqual([]);
        const kinds = (await events(exporter.url)).map((e) => e.kind);
        expect(kinds).toEqual(['reloaded', 'started']);
      } finally {
        await exporter.close();
      }
    });
  });
});

describe('GET /api/v1/events', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
    await waitFor('all online', async () => ((await stack.status()).clusters[0]!.serversOnline === 3 ? true : undefined));
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('lists a server going offline and back, newest first, with the log and the snapshot in agreement', async () => {
    const url = stack.exporter.url;
    expect((await events(url)).map((e) => e.kind)).toEqual(['started']);
    await stack.sim.setFault('node-2', 'down');
    const offline = await waitFor('offline event', async () => (await events(url)).find((e) => e.kind === 'server_offline' && e.server === 'node-2'));
    expect(offline).toMatchObject({ cluster: 'sim', severity: 'warning', component: null, from: 'online', to: 'offline' });
    expect(offline.reason).toMatch(/connection_refused/);
    // The snapshot of that round (or a later one) shows it: the API, /metrics and the page judge alike.
    const status = await stack.status();
    expect(status.clusters[0]!.servers[1]).toMatchObject({ name: 'node-2', state: 'offline' });
    expect(status.clusters[0]!.servers[1]!.since).toBe(offline.time);
    expect(status.clusters[0]!.recentEvents.some((e) => e.kind === 'server_offline' && e.time === offline.time)).toBe(true);
    expect(await stack.metrics()).toMatch(/appcluster_server_online\{app_cluster="sim",server="node-2"[^}]*\} 0/);
    expect(stack.logLines.filter((l) => l.includes('msg="server offline"') && l.includes('server=node-2'))).toHaveLength(1);

    await stack.sim.clearFault('node-2');
    const online = await waitFor('online event', async () => (await events(url)).find((e) => e.kind === 'server_online' && e.server === 'node-2'));
    expect(online.message).toMatch(/^node-2 back online after \d+s offline$/);
    const all = await events(url);
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((a, b) => b - a));
    expect(all.at(-1)!.kind).toBe('started');
    expect(all.findIndex((e) => e === all.find((x) => x.kind === 'server_online'))).toBeLessThan(all.findIndex((e) => e.kind === 'server_offline'));

    // A cursor: asking again with `next` misses nothing and repeats nothing.
    const { next } = await page(url);
    expect(await page(url, `?after=${next}`)).toMatchObject({ events: [], next, more: false, missed: false });
    const afterOffline = await page(url, `?after=${next.replace(/\d+$/, String(offline.seq))}`);
    expect(afterOffline.events.map((e) => e.seq).every((n) => n > offline.seq)).toBe(true);
    expect(afterOffline.events.some((e) => e.kind === 'server_online')).toBe(true);
    expect((await events(url, '?cluster=sim')).some((e) => e.kind === 'started')).toBe(false);
    expect(await page(url, '?limit=1')).toMatchObject({ events: [{ kind: 'started' }], more: true });
  });

  it.each([
    ['since, which lost events', 'since=1795443131', /^since: no longer taken; ask with after=NEXT/],
    ['a word for a cursor', 'after=yesterday', /^after: "yesterday" is not a cursor/],
    ['a repeated cursor', 'after=00000000-1&after=00000000-2', /^after: give it once/],
    ['a limit of 0', 'limit=0', /^limit: "0" is not a whole number from 1 to 1000/],
    ['5,000 digits (clipped in the answer)', `after=${'9'.repeat(5000)}`, /^after: "9{40}…" is not/],
    ['a cluster that is not configured', 'cluster=nope', /^cluster: "nope" is not a configured cluster$/],
  ])('answers 400 with the reason to %s', async (_, query, reason) => {
    const res = await fetch(`${stack.exporter.url}/api/v1/events?${query}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { status: string; errorType: string; error: string };
    expect(body).toMatchObject({ status: 'error', errorType: 'bad_data' });
    expect(body.error).toMatch(reason);
  });

  it('hands a poller with limit=2 every event as the docs loop asks, while servers go down and back in one round', async () => {
    const url = stack.exporter.url;
    const got: LoggedEvent[] = [];
    let after = '';
    let missed = false;
    const poll = async () => {
      // Bounded, so that a server that never says "no more" fails the test instead of hanging it.
      for (let i = 0; i < 100; i++) {
        const p = await page(url, `?limit=2${after ? `&after=${after}` : ''}`);
        got.push(...p.events);
        missed ||= p.missed;
        after = p.next;
        if (!p.more) return;
      }
    };
    await poll();
    const before = got.at(-1)!.seq;
    const names = stack.sim.servers.map((s) => s.name);
    await Promise.all(names.map((n) => stack.sim.setFault(n, 'down')));
    await waitFor('all offline, polled', async () => {
      await poll();
      return (await stack.status()).clusters[0]!.serversOnline === 0 ? true : undefined;
    });
    await Promise.all(names.map((n) => stack.sim.clearFault(n)));
    await waitFor('all online, polled', async () => {
      await poll();
      return (await stack.status()).clusters[0]!.serversOnline === names.length ? true : undefined;
    });
    await poll();
    const kept = (await page(url)).events;
    // Each server's components and the server itself, down and back: many events share a time.
    expect(kept.filter((e) => e.seq > before && (e.kind === 'server_offline' || e.kind === 'server_online')).length).toBe(2 * names.length);
    expect(new Set(kept.map((e) => e.time)).size).toBeLessThan(kept.length);
    expect(got.map((e) => e.seq)).toEqual(kept.map((e) => e.seq));
    expect(`${got.length} of ${kept.length}`).toBe(`${kept.length} of ${kept.length}`);
    expect(missed).toBe(false);
  });

  it('records reloads and their outcome, the error of a failed one included', async () => {
    const url = stack.exporter.url;
    const good = readFileSync(stack.configFile, 'utf8');
    expect((await fetch(`${url}/-/reload`, { method: 'POST' })).status).toBe(200);
    await writeFile(stack.configFile, `${good}\nbogus: [`);
    expect((await fetch(`${url}/-/reload`, { method: 'POST' })).status).toBe(500);
    await writeFile(stack.configFile, good);
    const own = (await events(url)).filter((e) => e.cluster === null);
    expect(own.map((e) => e.kind)).toEqual(['reload_failed', 'reloaded', 'started']);
    expect(own[0]!.reason).toContain('config.yml');
    expect(own[1]!.message).toBe('configuration reloaded: unchanged');
    // The page's snapshot lists them too.
    expect((await stack.status()).recentEvents.map((e) => e.kind)).toEqual(['reload_failed', 'reloaded', 'started']);
  });

  it('clips a 10,000-character version in the snapshot and in the drift event', async () => {
    await stack.sim.setFault('node-3', 'version_drift', { value: `<b>${'9'.repeat(10_000)}`, component: 'web' });
    const drift = await waitFor('drift event', async () => (await events(stack.exporter.url)).find((e) => e.kind === 'version_drift' && e.server === 'node-3'));
    // 64 characters and an ellipsis (probes/extract.ts).
    expect(drift.to!.length).toBeLessThanOrEqual(65);
    expect(drift.message.length).toBeLessThan(200);
    expect((await stack.status()).clusters[0]!.servers[2]!.components[0]!.version!.length).toBeLessThanOrEqual(65);
    await stack.sim.clearFault('node-3');
    await waitFor('back in sync', async () => ((await events(stack.exporter.url)).some((e) => e.kind === 'version_in_sync' && e.server === 'node-3') ? true : undefined));
  });
});

describe('ring bounds', () => {
  it(`keeps at most ${EVENTS_PER_CLUSTER} events of a cluster, the newest`, async () => {
    const stack = await startStack({ servers: 60 });
    try {
      await waitFor('all online', async () => ((await stack.status()).clusters[0]!.serversOnline === 60 ? true : undefined));
      // Each server going down makes three events (two components and the server): 180 in all.
      await Promise.all(stack.sim.servers.map((s) => stack.sim.setFault(s.name, 'down')));
      await waitFor('all offline', async () => ((await stack.status()).clusters[0]!.serversOnline === 0 ? true : undefined));
      // Both components of every server are down once every server is offline for a component of its own.
      const kept = await waitFor('180 events made', async () => {
        const list = await events(stack.exporter.url, '?cluster=sim');
        const status = await stack.status();
        return status.clusters[0]!.servers.every((s) => s.components.every((c) => c.state === 'down')) ? list : undefined;
      });
      expect(kept).toHaveLength(EVENTS_PER_CLUSTER);
      expect(kept.map((e) => e.time)).toEqual([...kept.map((e) => e.time)].sort((a, b) => b - a));
      // A poller from the start is told that events it never saw were let go.
      expect((await page(stack.exporter.url, '?cluster=sim')).missed).toBe(true);
      // The exporter's own ring is apart: its start is still there.
      expect((await events(stack.exporter.url)).at(-1)!.kind).toBe('started');
      expect((await stack.status()).clusters[0]!.recentEvents).toHaveLength(10);
    } finally {
      await stack.close();
    }
  });

  it(`keeps the last ${RECENT_CHECKS} probe results of each component, oldest first`, async () => {
    const stack = await startStack({ servers: 1 }, { heartbeatInterval: '250ms', probeTimeout: '240ms', staleTimeout: '5s' });
    try {
      const recent = async () => (await stack.status()).clusters[0]!.servers[0]!.components[0]!.recent as unknown as { at: number; result: string }[];
      const full = await waitFor('a full strip', async () => {
        const r = await recent();
        return r.length === RECENT_CHECKS ? r : undefined;
      });
      expect(full.every((x) => x.result === 'up')).toBe(true);
      expect(full.map((x) => x.at)).toEqual([...full.map((x) => x.at)].sort((a, b) => a - b));
      // Twenty probes later it is still full and holds only newer results.
      await waitFor('newer results', async () => {
        const r = await recent();
        return r.length === RECENT_CHECKS && r[0]!.at > full.at(-1)!.at ? true : undefined;
      });
    } finally {
      await stack.close();
    }
  });
});
