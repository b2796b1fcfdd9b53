import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { tempDir, waitFor } from '../helpers/stack.js';

// One answer, many facts, on real sockets: a ProGet-shaped /health document read by three
// components, a Patroni-shaped /patroni document with a role fact, and the expectations
// judged from them.
interface Node {
  health: Record<string, unknown>;
  patroni: Record<string, unknown>;
  requests: Map<string, number>;
}

const nodes = new Map<string, Node>();
const servers: (Server | TcpServer)[] = [];
/** Each node's ports, by address: every node listens on its own loopback address. */
const ports = new Map<string, { http: number; peer: number }>();
let exporter: RunningExporter;
let configFile: string;
const logLines: string[] = [];

function node(address: string): Node {
  let n = nodes.get(address);
  if (!n) {
    n = {
      health: { databaseStatus: 'OK', serviceStatus: 'OK', serviceStatusDetail: null, releaseNumber: '23.0.27', versionNumber: '2023.27 (Build 5)', sessions: 4 },
      patroni: { state: 'running', role: 'replica', server_version: 150018, patroni: { version: '3.0.2' } },
      requests: new Map(),
    };
    nodes.set(address, n);
  }
  return n;
}

function labels(address: string): string {
  const p = ports.get(address)!;
  return `{ http_port: "${p.http}", messenger_port: "${p.peer}" }`;
}

function config(extra = ''): string {
  return `clusters:
  - name: proget
    heartbeat_interval: 1s
    probe_timeout: 900ms
    expectations: { min_servers_online: 2 }
    endpoints:
      health: { http: { url: "http://{address}:{labels.http_port}/health/json" } }
    components:
      - { name: web, endpoint: health, version: releaseNumber, facts: { build: versionNumber }, values: { sessions: sessions } }
      - { name: service, endpoint: health, status: { json: serviceStatus, healthy: [OK], reason: serviceStatusDetail }, version: releaseNumber }
      - { name: database, endpoint: health, status: { json: databaseStatus, healthy: [OK] } }
      - { name: messenger, required: false, probe: { tcp: { port: "{labels.messenger_port}" } } }
    servers:
      - { name: pg-a, address: 127.0.0.1, labels: ${labels('127.0.0.1')} }
      - { name: pg-b, address: 127.0.0.2, labels: ${labels('127.0.0.2')} }
  - name: patroni
    heartbeat_interval: 1s
    probe_timeout: 900ms
    expectations:
      servers_with_fact: [{ name: one_primary, fact: role, values: [primary, master], count: 1 }]
    endpoints:
      patroni: { http: { url: "http://{address}:{labels.http_port}/patroni" } }
    components:
      - { name: patroni, endpoint: patroni, status: { json: state, healthy: [running] }, version: patroni.version, facts: { role: role } }
      - { name: postgresql, endpoint: patroni, version: server_version, expected_version: "150018" }
    servers:
      - { name: db-1, address: 127.0.0.1, labels: ${labels('127.0.0.1')} }
      - { name: db-2, address: 127.0.0.2, labels: ${labels('127.0.0.2')} }
${extra}`;
}

beforeAll(async () => {
  for (const address of ['127.0.0.1', '127.0.0.2']) {
    const n = node(address);
    const http = createServer((req, res) => {
      n.requests.set(req.url!, (n.requests.get(req.url!) ?? 0) + 1);
      const body = req.url === '/health/json' ? n.health : req.url === '/patroni' ? n.patroni : undefined;
      if (!body) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    const peer = createTcpServer((socket) => socket.end());
    servers.push(http, peer);
    await new Promise<void>((resolve) => http.listen(0, address, resolve));
    await new Promise<void>((resolve) => peer.listen(0, address, resolve));
    ports.set(address, { http: (http.address() as AddressInfo).port, peer: (peer.address() as AddressInfo).port });
  }
  node('127.0.0.1').patroni['role'] = 'primary';
  configFile = join(await tempDir(), 'config.yml');
  await writeFile(configFile, config());
  exporter = await startExporter({
    enableLifecycle: true,
    configFile,
    listenAddress: '127.0.0.1:0',
    logger: createLogger('debug', 'logfmt', { write: (s: string) => logLines.push(s) }),
  });
  await waitFor('every component probed', async () => ((await fetch(`${exporter.url}/-/ready`)).status === 200 ? true : undefined));
});

afterAll(async () => {
  await exporter?.close();
  for (const server of servers) server.close();
});

async function cluster(name: string): Promise<ClusterStatus> {
  const body = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: ClusterStatus[] } };
  return body.data.clusters.find((c) => c.name === name)!;
}

const metrics = async (): Promise<string> => (await fetch(`${exporter.url}/metrics`)).text();

describe('an endpoint read by several components', () => {
  it('is requested once per interval, however many components read it', async () => {
    const a = node('127.0.0.1');
    const start = a.requests.get('/health/json') ?? 0;
    const server = async () => (await cluster('proget')).servers.find((s) => s.name === 'pg-a')!;
    const first = (await server()).components.map((c) => c.lastProbe);
    // Four more probes of the endpoint: each answer is read by web, service and database at once.
    const probes = await waitFor(
      'four more probes',
      async () => {
        const s = await server();
        const web = s.components[0]!;
        return web.lastProbe! >= first[0]! + 3.5 ? s : undefined;
      },
      10_000,
    );
    const requests = (a.requests.get('/health/json') ?? 0) - start;
    const [web, service, database] = probes.components;
    expect(service!.lastProbe).toBe(web!.lastProbe);
    expect(database!.lastProbe).toBe(web!.lastProbe);
    // One request per probe of the endpoint (three components reading one URL used to cost three).
    expect(requests).toBeGreaterThanOrEqual(4);
    expect(requests).toBeLessThanOrEqual(6);
    console.log(`endpoint read by 3 components: ${requests} requests for ${Math.round(web!.lastProbe! - first[0]!)} s of 1 s probes`);
  });

  it('fails only the components whose reading fails, each with its own reason', async () => {
    const b = node('127.0.0.2');
    b.health['serviceStatus'] = 'Error';
    b.health['serviceStatusDetail'] = 'The service is not responding.';
    try {
      const s = await waitFor('pg-b service down', async () => {
        const server = (await cluster('proget')).servers.find((x) => x.name === 'pg-b')!;
        return server.components[1]!.state === 'down' ? server : undefined;
      });
      expect(s.components.map((c) => [c.name, c.state])).toEqual([
        ['web', 'up'],
        ['service', 'down'],
        ['database', 'up'],
        ['messenger', 'up'],
      ]);
      expect(s.components[1]!.detail).toBe('status "Error": The service is not responding.');
      expect(s).toMatchObject({ state: 'offline', reason: 'service: status_not_ok' });
      const expectation = await waitFor('min_servers_online breached', async () => {
        const e = (await cluster('proget')).expectations[0]!;
        return e.met === false ? e : undefined;
      });
      expect(expectation).toMatchObject({ name: 'min_servers_online', servers: 1, min: 2, summary: '1 of 2 active servers online, minimum 2' });
      expect(await metrics()).toContain('appcluster_cluster_expectation_servers{app_cluster="proget",expectation="min_servers_online"} 1');
    } finally {
      b.health['serviceStatus'] = 'OK';
      b.health['serviceStatusDetail'] = null;
    }
    await waitFor('pg-b back online', async () => ((await cluster('proget')).servers[1]!.state === 'online' ? true : undefined));
  });

  it('exports numeric values and text facts, and says which value is not a number', async () => {
    const text = await metrics();
    expect(text).toContain('appcluster_component_value{app_cluster="proget",server="pg-a",component="web",name="sessions"} 4');
    expect(text).toContain('appcluster_component_fact_info{app_cluster="proget",server="pg-a",component="web",fact="build",value="2023.27 (Build 5)"} 1');
    expect(text).toContain('appcluster_component_fact_info{app_cluster="patroni",server="db-1",component="patroni",fact="role",value="primary"} 1');
    const a = node('127.0.0.1');
    a.health['sessions'] = 'n/a';
    try {
      const web = await waitFor('the problem shown', async () => {
        const c = (await cluster('proget')).servers[0]!.components[0]!;
        return c.problems.length > 0 ? c : undefined;
      });
      expect(web.problems).toEqual(['value sessions: "n/a" is not a number']);
      expect(web.state).toBe('up');
      expect(await metrics()).not.toContain('name="sessions"} 4\nappcluster_component_value{app_cluster="proget",server="pg-a"');
      await waitFor('the debug log line', () =>
        logLines.some((l) => l.includes('answer lacks configured values or facts') && l.includes('server=pg-a')) ? true : undefined,
      );
    } finally {
      a.health['sessions'] = 4;
    }
  });

  it('holds each component to its own expected version', async () => {
    const db = (await cluster('patroni')).servers[0]!;
    expect(db.components.map((c) => [c.name, c.version, c.versionInSync])).toEqual([
      ['patroni', '3.0.2', true],
      ['postgresql', '150018', true],
    ]);
    expect((await cluster('patroni')).referenceVersions).toEqual({ patroni: '3.0.2', postgresql: '150018' });
  });

  it('judges "exactly one primary": none, two, and a change of role logged', async () => {
    expect((await cluster('patroni')).expectations[0]).toMatchObject({ name: 'one_primary', servers: 1, met: true, matching: ['db-1'] });
    node('127.0.0.2').patroni['role'] = 'master';
    try {
      const two = await waitFor('two primaries', async () => {
        const e = (await cluster('patroni')).expectations[0]!;
        return e.servers === 2 ? e : undefined;
      });
      expect(two).toMatchObject({ met: false, matching: ['db-1', 'db-2'], min: 1, max: 1 });
      expect(two.summary).toBe('2 servers with role primary or master (db-1, db-2), expected exactly 1');
      await waitFor('the fact change logged', () =>
        logLines.some((l) => l.includes('msg="fact changed"') && l.includes('server=db-2') && l.includes('from=replica') && l.includes('to=master'))
          ? true
          : undefined,
      );
      node('127.0.0.1').patroni['role'] = 'replica';
      node('127.0.0.2').patroni['role'] = 'replica';
      const none = await waitFor('no primary', async () => {
        const e = (await cluster('patroni')).expectations[0]!;
        return e.servers === 0 ? e : undefined;
      });
      expect(none.met).toBe(false);
      expect(await metrics()).toContain('appcluster_cluster_expectation_servers{app_cluster="patroni",expectation="one_primary"} 0');
    } finally {
      node('127.0.0.1').patroni['role'] = 'primary';
      node('127.0.0.2').patroni['role'] = 'replica';
    }
  });

  it('keeps the running configuration when a reload brings an unknown fact name', async () => {
    await writeFile(
      configFile,
      config(`  - name: extra
    expectations:
      servers_with_fact: [{ fact: leader, values: ["true"], count: 1 }]
    components: [{ name: etcd, probe: { http: { url: "http://{address}:${ports.get('127.0.0.1')!.http}/health/json" } }, facts: { role: role } }]
    servers: [{ name: e1, address: 127.0.0.1 }]
`),
    );
    const res = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/config\.yml:\d+:\d+: clusters\[2\]\.expectations\.servers_with_fact\[0\]\.fact: no component reads a fact "leader"; known: role/);
    const text = await metrics();
    expect(text).toContain('appcluster_exporter_config_last_reload_successful 0');
    expect(text).not.toContain('app_cluster="extra"');
    expect(text).toContain('appcluster_component_value{app_cluster="proget",server="pg-a",component="web",name="sessions"}');
    await writeFile(configFile, config());
  });
});
