/**
 * Three nodes, each with its own agent, agent configuration and ProGet-style key file,
 * probed by a real exporter through its http probe: a key changed on one node shows as
 * that server's key out of sync and a second fingerprint in the cluster, and a stopped
 * process as its component down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { nthAddress } from '../../src/sim/cluster.js';
import { sample } from '../hardening/util.js';
import { progetConfig, readFact, startTestAgent, type TestAgent } from '../helpers/agent.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

const SECRET = `fp-${randomBytes(16).toString('hex')}`;
const KEY = randomBytes(16).toString('hex');
const OTHER_KEY = randomBytes(16).toString('hex');
const NODES = ['node-1', 'node-2', 'node-3'];

let dir: string;
let base: string;
let port: number;
const agents: TestAgent[] = [];
let exporter: RunningExporter;
let tm: ChildProcess;
const marker = String(400 + Math.floor(Math.random() * 1_000_000));

function agentConfig(node: string): string {
  return `fingerprint_secret_file: ../fingerprint-secret
min_interval: 200ms
facts:
  encryption_key:
    fingerprint: { file: ProGet.config, xml: InedoAppConfig.EncryptionKey }
  transaction_manager:
    process: { name: sleep, cmdline_contains: "${node === 'node-3' ? `no-tm-on-${marker}` : marker}" }
`;
}

beforeAll(async () => {
  dir = await tempDir('agent-cluster-');
  base = randomBase();
  await writeFile(join(dir, 'fingerprint-secret'), `${SECRET}\n`);
  tm = spawn('sleep', [marker], { stdio: 'ignore' });
  for (const [i, node] of NODES.entries()) {
    const nodeDir = join(dir, node);
    await mkdir(nodeDir);
    await writeFile(join(nodeDir, 'ProGet.config'), progetConfig(KEY));
    // The first agent takes a free port; the others listen on the same port at their own address.
    const listen = `${nthAddress(base, i)}:${i === 0 ? 0 : port}`;
    const a = await startTestAgent(nodeDir, 'agent.yml', agentConfig(node), listen);
    if (i === 0) port = Number(new URL(a.agent.url).port);
    agents.push(a);
  }
  const configFile = join(dir, 'exporter.yml');
  await writeFile(
    configFile,
    `global:
  heartbeat_interval: 1s
  probe_timeout: 500ms
  stale_timeout: 5s
clusters:
  - name: proget
    endpoints:
      agent:
        http: { url: "http://{address}:${port}/api/v1/facts" }
    components:
      - name: agent
        endpoint: agent
        key_fingerprint: facts.encryption_key.fingerprint
        os: node.os
        clock: node.time
        values: { node_time: node.time }
      - name: transaction-manager
        endpoint: agent
        required: false
        status: facts.transaction_manager.state
        values: { start_time: facts.transaction_manager.startTime }
    servers:
${NODES.map((n, i) => `      - { name: ${n}, address: ${nthAddress(base, i)} }`).join('\n')}
`,
  );
  exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => true }) });
});

afterAll(async () => {
  tm?.kill('SIGKILL');
  await exporter?.close();
  await Promise.all(agents.map((a) => a.agent.close()));
});

async function metrics(): Promise<string> {
  return (await fetch(`${exporter.url}/metrics`)).text();
}

const inSync = (m: string, server: string): number | undefined =>
  sample(m, 'appcluster_component_key_in_sync', { app_cluster: 'proget', server, component: 'agent' });
const fingerprints = (m: string): number | undefined => sample(m, 'appcluster_cluster_key_fingerprints', { app_cluster: 'proget' });

describe('three agents probed by the exporter', () => {
  it('shows a key changed on one node as out of sync, and two fingerprints in the cluster', async () => {
    await waitFor('every key in sync', async () => {
      const m = await metrics();
      return NODES.every((n) => inSync(m, n) === 1) && fingerprints(m) === 1 ? true : undefined;
    });
    const published = await Promise.all(agents.map(async (a) => readFact(await a.fact('encryption_key'))['fingerprint']));
    expect(new Set(published).size).toBe(1);

    await writeFile(join(dir, 'node-2', 'ProGet.config'), progetConfig(OTHER_KEY));
    const m = await waitFor('node-2 out of sync', async () => {
      const text = await metrics();
      return inSync(text, 'node-2') === 0 ? text : undefined;
    });
    expect(inSync(m, 'node-1')).toBe(1);
    expect(inSync(m, 'node-3')).toBe(1);
    expect(fingerprints(m)).toBe(2);

    await writeFile(join(dir, 'node-2', 'ProGet.config'), progetConfig(KEY));
    await waitFor('back in sync', async () => {
      const text = await metrics();
      return inSync(text, 'node-2') === 1 && fingerprints(text) === 1 ? true : undefined;
    });
  });

  it('takes a process fact as a component status, and the OS from the node', async () => {
    const up = (m: string, server: string): number | undefined =>
      sample(m, 'appcluster_component_up', { app_cluster: 'proget', server, component: 'transaction-manager' });
    const m = await waitFor('node-3 TM down', async () => {
      const text = await metrics();
      return up(text, 'node-1') === 1 && up(text, 'node-3') === 0 ? text : undefined;
    });
    expect(sample(m, 'appcluster_component_probe_failure_reason', { server: 'node-3', component: 'transaction-manager', reason: 'status_not_ok' })).toBe(1);
    const status = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as {
      data: { clusters: { servers: { name: string; os: string; clockOffsetSeconds: number | null; components: { name: string; values: Record<string, number> }[] }[] }[] };
    };
    const node1 = status.data.clusters[0]!.servers[0]!;
    expect(node1.os).toMatch(/^Linux /);
    const tmValues = node1.components.find((c) => c.name === 'transaction-manager')!.values;
    expect(Math.abs(tmValues['start_time']! - Date.now() / 1000)).toBeLessThan(600);
    expect(Math.abs(node1.components.find((c) => c.name === 'agent')!.values['node_time']! - Date.now() / 1000)).toBeLessThan(30);
    // The agent's node time, read while the request was out on the same clock: no offset (issue 28, item 8).
    expect(node1.clockOffsetSeconds).toBe(0);
    expect(sample(m, 'appcluster_server_clock_offset_seconds', { server: 'node-1' })).toBe(0);

    tm.kill('SIGKILL');
    await waitFor('node-1 TM down', async () => (up(await metrics(), 'node-1') === 0 ? true : undefined));
  });
});
