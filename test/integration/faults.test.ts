import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComponentStatus, ServerStatus } from '../../src/evaluate/snapshot.js';
import type { Fault } from '../../src/sim/cluster.js';
import { startStack, waitFor, type Stack } from '../helpers/stack.js';

// Heartbeat 1s, probe timeout 400ms, stale timeout 3s (see startStack).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await waitFor('every server online', async () => ((await stack.status()).clusters[0]!.serversOnline === 3 ? true : undefined));
});
afterAll(() => stack.close());

async function node2(): Promise<ServerStatus> {
  return (await stack.status()).clusters[0]!.servers.find((s) => s.name === 'node-2')!;
}

async function component(name: string): Promise<ComponentStatus> {
  return (await node2()).components.find((c) => c.name === name)!;
}

async function withFault(fault: Fault, opts: { component?: string; value?: string }, check: () => Promise<void>): Promise<void> {
  await stack.sim.setFault('node-2', fault, opts);
  try {
    await check();
  } finally {
    await stack.sim.clearFault('node-2');
    await waitFor('node-2 back online', async () => ((await node2()).state === 'online' ? true : undefined));
  }
}

describe('each simulated fault gives the expected up, reason and online state', () => {
  it.each([
    ['down', 'connection_refused'],
    ['hang', 'timeout'],
    ['http500', 'http_status'],
    ['unhealthy', 'status_not_ok'],
    ['malformed', 'bad_body'],
    ['oversized', 'body_too_large'],
  ] as const)('%s: service down with reason %s, server offline', async (fault, reason) => {
    await withFault(fault, { component: 'service' }, async () => {
      const s = await waitFor(`node-2 offline by ${fault}`, async () => {
        const n = await node2();
        return n.state === 'offline' && n.components[1]!.reason === reason ? n : undefined;
      });
      expect(s.reason).toBe(`service: ${reason}`);
      expect(s.components[0]!.up).toBe(true);
      expect(s.components[1]!.up).toBe(false);
      const metrics = await stack.metrics();
      expect(metrics).toContain('appcluster_server_online{app_cluster="sim",server="node-2"} 0');
      expect(metrics).toContain('appcluster_component_up{app_cluster="sim",server="node-2",component="service"} 0');
      expect(metrics).toContain(`appcluster_component_probe_failure_reason{app_cluster="sim",server="node-2",component="service",reason="${reason}"} 1`);
      expect(metrics).toMatch(new RegExp(`appcluster_component_probe_failures_total\\{app_cluster="sim",server="node-2",component="service",reason="${reason}"\\} [1-9]`));
    });
  });

  it('slow within the timeout stays up; slower than the timeout fails with timeout', async () => {
    await withFault('slow', { component: 'web', value: '100' }, async () => {
      await new Promise((r) => setTimeout(r, 2500));
      expect((await component('web')).up).toBe(true);
      expect((await component('web')).probeDurationSeconds).toBeGreaterThanOrEqual(0.1);
    });
    await withFault('slow', { component: 'web', value: '2000' }, async () => {
      const web = await waitFor('web timing out', async () => {
        const c = await component('web');
        return c.reason === 'timeout' ? c : undefined;
      });
      expect(web.probeDurationSeconds).toBeLessThan(1);
    });
  });

  it('version drift keeps the server online and marks the version out of sync', async () => {
    await withFault('version_drift', { value: '7.0.0' }, async () => {
      await waitFor('version out of sync', async () => ((await component('web')).versionInSync === false ? true : undefined));
      expect((await node2()).state).toBe('online');
      const metrics = await stack.metrics();
      expect(metrics).toContain('appcluster_component_version_in_sync{app_cluster="sim",server="node-2",component="web"} 0');
      expect(metrics).toContain('appcluster_component_info{app_cluster="sim",server="node-2",component="web",version="7.0.0"} 1');
      expect(metrics).toContain('appcluster_component_version_in_sync{app_cluster="sim",server="node-1",component="web"} 1');
    });
  });

  it('key drift marks the key out of sync and counts two fingerprints', async () => {
    await withFault('key_drift', { component: 'service' }, async () => {
      await waitFor('key out of sync', async () => ((await component('service')).keyInSync === false ? true : undefined));
      const metrics = await stack.metrics();
      expect(metrics).toContain('appcluster_cluster_key_fingerprints{app_cluster="sim"} 2');
      expect(metrics).toContain('appcluster_component_key_in_sync{app_cluster="sim",server="node-2",component="service"} 0');
    });
  });

  it('a frozen heartbeat turns the component stale after the stale timeout, and the server offline', async () => {
    await withFault('frozen_heartbeat', { component: 'service' }, async () => {
      const s = await waitFor('stale', async () => {
        const n = await node2();
        return n.state === 'offline' ? n : undefined;
      });
      expect(s.reason).toBe('service: stale');
      expect(s.components[1]).toMatchObject({ up: true, stale: true, state: 'stale' });
      expect(s.components[1]!.heartbeatAgeSeconds).toBeGreaterThan(3);
    });
  });

  it('flapping alternates failures and successes', async () => {
    await withFault('flapping', { component: 'web' }, async () => {
      const seen = new Set<boolean>();
      await waitFor('both states', async () => {
        const c = await component('web');
        if (c.up !== null) seen.add(c.up);
        return seen.size === 2 ? true : undefined;
      });
      expect((await component('web')).failures.http_status).toBeGreaterThan(0);
    });
  });

  it('logs one line when a server goes offline and one when it is back', async () => {
    // Let the transition log (judged once a second) catch up with the tests before this one.
    await waitFor('node-2 online', async () => ((await node2()).state === 'online' ? true : undefined));
    await new Promise((r) => setTimeout(r, 2500));
    const before = stack.logLines.length;
    await withFault('down', {}, async () => {
      await waitFor('offline', async () => ((await node2()).state === 'offline' ? true : undefined));
    });
    await waitFor('log line', () => (stack.logLines.slice(before).some((l) => l.includes('server back online')) ? true : undefined));
    const lines = stack.logLines.slice(before).filter((l) => l.includes('server=node-2'));
    expect(lines.filter((l) => l.includes('msg="server offline"'))).toHaveLength(1);
    expect(lines.find((l) => l.includes('msg="server offline"'))).toMatch(/level=warn .*reason=".*connection_refused/);
    expect(lines.filter((l) => l.includes('msg="server back online"'))).toHaveLength(1);
  });
});

describe('compression', () => {
  it.each(['/metrics', '/api/v1/status'])('%s is gzipped for clients that ask, as Prometheus does, and plain otherwise', async (path) => {
    const url = `${stack.exporter.url}${path}`;
    const gz = await request(url, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['vary']).toBe('Accept-Encoding');
    const packed = Buffer.from(await gz.body.arrayBuffer());
    const text = gunzipSync(packed).toString();
    const plain = await request(url);
    expect(plain.headers['content-encoding']).toBeUndefined();
    const plainText = await plain.body.text();
    expect(packed.length).toBeLessThan(plainText.length / 4);
    // Both come from one shared snapshot of the same second, or a newer one.
    const marker = path === '/metrics' ? 'appcluster_server_online{app_cluster="sim",server="node-1"} 1' : '"status":"success"';
    expect(text).toContain(marker);
    expect(plainText).toContain(marker);
    const refused = await request(url, { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    expect(refused.headers['content-encoding']).toBeUndefined();
    await refused.body.text();
  });
});
