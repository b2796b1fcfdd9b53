import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { ComponentStatus, Snapshot } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { probesOf } from '../helpers/probe.js';
import { tempDir, waitFor } from '../helpers/stack.js';

// How the http probe reads what real servers answer: each path of one loopback server
// sends one body, each component of one configuration reads one path.
const BODIES: Record<string, unknown> = {
  '/etcd': { health: 'false', reason: 'RAFT NO LEADER' },
  '/etcd-ok': { health: 'true', reason: '' },
  '/spaces': { health: ' true ' },
  '/numeric': { code: 200 },
  '/decimal': { level: '1.10' },
  '/keys': { data: { '0': 'object key' }, list: ['list item'], 'a.b': 'dot', 'a b': 'space', "it's": 'single', 'say "hi"': 'double' },
  '/zero': { status: 'ok', hb: 0 },
};

let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((req, res) => {
    const body = BODIES[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('status values and paths, read by the http probe', () => {
  let config: Config;
  beforeAll(() => {
    // `reads` is a flow mapping of what the component reads: its fields join the component's.
    const component = (name: string, path: string, reads: string) =>
      `      - { name: ${name}, probe: { http: { url: "http://{address}:${port}${path}" } }, ${reads.slice(2, -2)} }`;
    config = parseConfig(
      `clusters:
  - name: c
    components:
${component('etcd', '/etcd', '{ status: { json: health, healthy: ["true"], reason: reason } }')}
${component('etcd-ok', '/etcd-ok', '{ status: { json: health, healthy: ["true"], reason: reason } }')}
${component('spaces', '/spaces', '{ status: { json: health, healthy: [true] } }')}
${component('numeric', '/numeric', '{ status: { json: code, healthy: [200] } }')}
${component('decimal', '/decimal', '{ status: { json: level, healthy: [1.10] } }')}
${component('index', '/keys', `{ version: 'data[0]' }`)}
${component('key', '/keys', `{ version: 'data["0"]' }`)}
${component('item', '/keys', `{ version: 'list[0]' }`)}
${component('dot', '/keys', `{ version: '["a.b"]' }`)}
${component('space', '/keys', `{ version: '$["a b"]' }`)}
${component('single', '/keys', `{ version: '["it''s"]' }`)}
${component('double', '/keys', `{ version: '["say \\"hi\\""]' }`)}
    servers: [{ name: s, address: 127.0.0.1 }]
`,
      'answers.yml',
    );
    probes = probesOf(config);
  });
  let probes: ReturnType<typeof probesOf>;
  afterAll(() => probes.close());

  const probe = (name: string) => probes.probe(name);

  it('puts the reason the answer gives for an unhealthy status in the detail', async () => {
    expect(await probe('etcd')).toMatchObject({ success: false, reason: 'status_not_ok', detail: 'status "false": RAFT NO LEADER' });
    expect(await probe('etcd-ok')).toMatchObject({ success: true, status: 'true' });
  });

  it('compares status values trimmed, ignoring case, and YAML booleans and numbers as text', async () => {
    expect(await probe('spaces')).toMatchObject({ success: true, status: ' true ' });
    expect(await probe('numeric')).toMatchObject({ success: true, status: '200' });
    // Taken as written: YAML's number 1.1 would miss "1.10".
    expect(await probe('decimal')).toMatchObject({ success: true, status: '1.10' });
  });

  it('matches an index only to a list item, and reads quoted names', async () => {
    expect((await probe('index')).version).toBeUndefined();
    expect((await probe('key')).version).toBe('object key');
    expect((await probe('item')).version).toBe('list item');
    expect((await probe('dot')).version).toBe('dot');
    expect((await probe('space')).version).toBe('space');
    expect((await probe('single')).version).toBe('single');
    expect((await probe('double')).version).toBe('double');
  });
});

describe('a component that reports heartbeat 0', () => {
  let exporter: RunningExporter;
  beforeAll(async () => {
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(
      configFile,
      `clusters:
  - name: zero
    heartbeat_interval: 1s
    probe_timeout: 900ms
    stale_timeout: 2s
    components:
      - name: service
        probe: { http: { url: "http://{address}:${port}/zero" } }
        status: status
        heartbeat: hb
    servers: [{ name: s, address: 127.0.0.1 }]
`,
    );
    exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => true }) });
  });
  afterAll(() => exporter?.close());

  const service = async (): Promise<{ state: string; c: ComponentStatus }> => {
    const s = ((await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: Snapshot }).data.clusters[0]!.servers[0]!;
    return { state: s.state, c: s.components[0]! };
  };

  it('stays online past the stale timeout while probes succeed, and the API and page say why', async () => {
    const first = await waitFor('a first probe', async () => (await service()).c.lastProbe ?? undefined);
    const later = await waitFor('probes for longer than the stale timeout', async () => {
      const s = await service();
      return s.c.lastProbe !== null && s.c.lastProbe - first > 2.5 ? s : undefined;
    });
    expect(later.state).toBe('online');
    expect(later.c).toMatchObject({ state: 'up', stale: false, heartbeatProblem: 'heartbeat "0" is before 2000-01-01' });
    expect(later.c.lastHeartbeat).toBeGreaterThan(first);
    expect(await (await fetch(`${exporter.url}/`)).text()).toContain('heartbeat &quot;0&quot; is before 2000-01-01');
  });
});
