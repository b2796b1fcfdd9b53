/**
 * The `proget` and `securetransport` presets with the on-node agent turned on, as users
 * write them (`preset:` and `{ name: agent, enabled: true }`): three real agents, each with
 * its own ProGet-style key file, `taeh` file and process fact, next to loopback servers
 * answering ProGet's /health/json and SecureTransport's admin API. A key changed on one
 * node shows as that server's key out of sync and a second fingerprint in the cluster; a
 * stopped Transaction Manager process as its tm-process component down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { nthAddress } from '../../src/sim/cluster.js';
import { sample } from '../hardening/util.js';
import { progetConfig, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { makeCerts } from '../helpers/certs.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

const SECRET = `fp-${randomBytes(16).toString('hex')}`;
const KEY = randomBytes(16).toString('hex');
const OTHER_KEY = randomBytes(16).toString('hex');
const TAEH = randomBytes(64);
const ST_PASSWORD = `st-${randomBytes(8).toString('hex')}`;
const NODES = ['node-1', 'node-2', 'node-3'];
// The TM stands in as a `sleep` whose argument only this test uses; node-3's agent looks
// for another argument, so it finds no TM.
const marker = String(500_000 + Math.floor(Math.random() * 1_000_000));

let dir: string;
let exporter: RunningExporter;
let tm: ChildProcess;
const agents: TestAgent[] = [];
const servers: Server[] = [];

/** The agent configuration of examples/agent/*.yml, with this test's files and process. */
function agentConfig(node: string): string {
  return `fingerprint_secret_file: ../fingerprint-secret
min_interval: 200ms
facts:
  encryption_key:
    fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey }
  taeh:
    fingerprint: { file: taeh }
  transaction_manager:
    process: { name: sleep, cmdline_contains: "${node === 'node-3' ? `no-tm-${marker}` : marker}" }
`;
}

async function serve(server: Server, address: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  server.on('request', handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  return (server.address() as AddressInfo).port;
}

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

beforeAll(async () => {
  dir = await tempDir('agent-preset-');
  const base = randomBase();
  const addresses = NODES.map((_, i) => nthAddress(base, i));
  const certs = makeCerts(dir, addresses.map((a) => `IP:${a}`).join(','));
  await writeFile(join(dir, 'fingerprint-secret'), `${SECRET}\n`);
  await writeFile(join(dir, 'st-monitor.password'), `${ST_PASSWORD}\n`);
  tm = spawn('sleep', [marker], { stdio: 'ignore' });

  let agentPort = 0;
  const labels: string[] = [];
  for (const [i, node] of NODES.entries()) {
    const nodeDir = join(dir, node);
    await mkdir(nodeDir);
    await writeFile(join(nodeDir, 'ProGet.config'), progetConfig(KEY));
    // node-3 holds another `taeh` from the start.
    await writeFile(join(nodeDir, 'taeh'), node === 'node-3' ? randomBytes(64) : TAEH);
    // The first agent takes a free port; the others listen on the same port at their own
    // address, as the preset's agent_port is one port for all servers.
    const a = await startTestAgent(nodeDir, 'agent.yml', agentConfig(node), `${addresses[i]}:${agentPort}`);
    if (i === 0) agentPort = Number(new URL(a.agent.url).port);
    agents.push(a);

    // ProGet's GET /health/json, healthy.
    const http = await serve(createServer(), addresses[i]!, (req, res) => {
      if (req.url !== '/health/json') return void res.writeHead(404).end();
      json(res, 200, { applicationName: 'ProGet', databaseStatus: 'OK', serviceStatus: 'OK', licenseStatus: 'OK', releaseNumber: '23.0.27', versionNumber: '2023.27 (Build 5)' });
    });
    // SecureTransport's admin API, the TM Running by its own word.
    const tls = { cert: await readFile(certs.serverCert), key: await readFile(certs.serverKey) };
    const admin = await serve(createHttpsServer(tls), addresses[i]!, (req, res) => {
      if (req.headers.authorization !== `Basic ${Buffer.from(`monitor:${ST_PASSWORD}`).toString('base64')}`) return void json(res, 401, {});
      if (req.url === '/api/v2.0/version') return void json(res, 200, { version: '5.5-20240131', serverType: 'SecureTransport', os: 'Linux' });
      if (req.url === '/api/v2.0/transactionManager') return void json(res, 200, { status: 'Running' });
      if (req.url === '/api/v2.0/daemons') return void json(res, 200, { ftpStatus: 'Running', httpStatus: 'Running', pesitStatus: 'Running', sshStatus: 'Running', as2Status: 'Running' });
      res.writeHead(404).end();
    });
    labels.push(`      - { name: ${node}, address: ${addresses[i]}, labels: { http_port: "${http}", admin_port: "${admin}" } }`);
  }

  const configFile = join(dir, 'exporter.yml');
  await writeFile(
    configFile,
    `global: { heartbeat_interval: 1s, probe_timeout: 500ms, stale_timeout: 5s }
clusters:
  - name: proget
    preset: proget
    heartbeat_interval: 1s
    stale_timeout: 5s
    parameters: { base_url: "http://{address}:{labels.http_port}", agent_port: "${agentPort}" }
    components:
      - { name: messenger, enabled: false }
      - { name: agent, enabled: true }
    servers:
${labels.join('\n')}
  - name: st
    preset: securetransport
    parameters:
      base_url: "https://{address}:{labels.admin_port}"
      username: monitor
      password_file: st-monitor.password
      ca_file: ${certs.ca}
      agent_port: "${agentPort}"
    components:
      - { name: agent, enabled: true }
      - { name: tm-process, enabled: true }
    servers:
${labels.join('\n')}
`,
  );
  exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => true }) });
});

afterAll(async () => {
  tm?.kill('SIGKILL');
  await exporter?.close();
  await Promise.all(agents.map((a) => a.agent.close()));
  for (const s of servers) s.close();
});

async function metrics(): Promise<string> {
  return (await fetch(`${exporter.url}/metrics`)).text();
}

async function cluster(name: string): Promise<ClusterStatus> {
  const body = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: ClusterStatus[] } };
  return body.data.clusters.find((c) => c.name === name)!;
}

const inSync = (m: string, app: string, server: string): number | undefined =>
  sample(m, 'appcluster_component_key_in_sync', { app_cluster: app, server, component: 'agent' });
const fingerprints = (m: string, app: string): number | undefined => sample(m, 'appcluster_cluster_key_fingerprints', { app_cluster: app });
const up = (m: string, app: string, server: string, component: string): number | undefined =>
  sample(m, 'appcluster_component_up', { app_cluster: app, server, component });

describe('preset proget with the agent on', () => {
  it('shows a key changed on one node as out of sync, and two fingerprints in the cluster', async () => {
    await waitFor('every key in sync', async () => {
      const m = await metrics();
      return NODES.every((n) => inSync(m, 'proget', n) === 1) && fingerprints(m, 'proget') === 1 ? true : undefined;
    });

    await writeFile(join(dir, 'node-2', 'ProGet.config'), progetConfig(OTHER_KEY));
    const m = await waitFor('node-2 out of sync', async () => {
      const text = await metrics();
      return inSync(text, 'proget', 'node-2') === 0 ? text : undefined;
    });
    expect(inSync(m, 'proget', 'node-1')).toBe(1);
    expect(inSync(m, 'proget', 'node-3')).toBe(1);
    expect(fingerprints(m, 'proget')).toBe(2);
    // The agent is not required: a key out of sync shows, the server stays online.
    const c = await cluster('proget');
    expect(c.servers.map((s) => [s.name, s.state])).toEqual(NODES.map((n) => [n, 'online']));
    expect(c.servers[0]!.os).toMatch(/^Linux /);

    await writeFile(join(dir, 'node-2', 'ProGet.config'), progetConfig(KEY));
    await waitFor('back in sync', async () => {
      const text = await metrics();
      return inSync(text, 'proget', 'node-2') === 1 && fingerprints(text, 'proget') === 1 ? true : undefined;
    });
  });
});

describe('preset securetransport with the agent on', () => {
  it('compares the taeh fingerprints: node-3 holds another', async () => {
    const m = await waitFor('taeh judged', async () => {
      const text = await metrics();
      return inSync(text, 'st', 'node-3') === 0 ? text : undefined;
    });
    expect(inSync(m, 'st', 'node-1')).toBe(1);
    expect(inSync(m, 'st', 'node-2')).toBe(1);
    expect(fingerprints(m, 'st')).toBe(2);
  });

  it('the TM process drives tm-process; the transaction-manager component reads the API', async () => {
    const m = await waitFor('tm-process judged', async () => {
      const text = await metrics();
      return up(text, 'st', 'node-1', 'tm-process') === 1 && up(text, 'st', 'node-3', 'tm-process') === 0 ? text : undefined;
    });
    expect(up(m, 'st', 'node-2', 'tm-process')).toBe(1);
    expect(sample(m, 'appcluster_component_probe_failure_reason', { app_cluster: 'st', server: 'node-3', component: 'tm-process', reason: 'status_not_ok' })).toBe(1);
    // The API says Running on every node, and tm-process is not required: node-3 is online.
    for (const n of NODES) expect(up(m, 'st', n, 'transaction-manager')).toBe(1);
    const c = await cluster('st');
    expect(c.servers.find((s) => s.name === 'node-3')!.state).toBe('online');
    const started = c.servers[0]!.components.find((x) => x.name === 'tm-process')!.values['start_time']!;
    expect(Math.abs(started - Date.now() / 1000)).toBeLessThan(600);

    tm.kill('SIGKILL');
    await waitFor('node-1 TM process stopped', async () => (up(await metrics(), 'st', 'node-1', 'tm-process') === 0 ? true : undefined));
  });
});
