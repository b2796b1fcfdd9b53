import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig, type SimExporterConfigOptions } from '../../src/sim/exporter-config.js';
import { PLAIN_KEEP_ALIVE } from '../../src/probes/fd-budget.js';
import { makeCerts } from '../helpers/certs.js';
import { MAIN, spawnExporter, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

const INTERVAL = { heartbeatInterval: '2s', probeTimeout: '1500ms' } as const;
const COMPONENTS = [
  { name: 'web', port: 8080 },
  { name: 'service', port: 8081 },
];

/** An exporter under an open-file limit of `limit`, probing a simulated cluster of `servers` servers. */
function underLimit(limit: number, servers: number, tls: boolean, interval: { heartbeatInterval: string; probeTimeout: string } = INTERVAL) {
  const wrapper = ['prlimit', `--nofile=${limit}:${limit}`, '--'];
  const env = { sim: undefined as SimCluster | undefined, configFile: '', exporter: undefined as ExporterProcess | undefined };
  beforeAll(async () => {
    const dir = await tempDir();
    let options: SimExporterConfigOptions = interval;
    let simTls: { key: string; cert: string } | undefined;
    if (tls) {
      // One certificate for every server, for the name the probes send (SNI and the check).
      const certs = makeCerts(dir, 'DNS:sim.test');
      simTls = { key: readFileSync(certs.serverKey, 'utf8'), cert: readFileSync(certs.serverCert, 'utf8') };
      options = { ...interval, tls: { caFile: certs.ca, serverName: 'sim.test' } };
    }
    env.sim = new SimCluster({ servers, components: COMPONENTS, baseAddress: randomBase(), ...(simTls ? { tls: simTls } : {}) });
    await env.sim.start();
    env.configFile = join(dir, 'config.yml');
    await writeFile(env.configFile, simExporterConfig(env.sim, options));
    env.exporter = await spawnExporter([`--config.file=${env.configFile}`], process.env, wrapper);
  });
  afterAll(async () => {
    await env.exporter?.stop();
    await env.sim?.stop();
  });
  return {
    get exporter(): ExporterProcess {
      return env.exporter!;
    },
    /** `--config.check` of the same file under the same limit. */
    check: () => spawnSync('prlimit', [`--nofile=${limit}:${limit}`, '--', process.execPath, MAIN, '--config.check', `--config.file=${env.configFile}`], { encoding: 'utf8' }),
  };
}

async function metrics(exporter: ExporterProcess): Promise<string> {
  return (await fetch(`${exporter.url}/metrics`)).text();
}

/**
 * Every server online, then two more rounds of probes, without a failure for want of a file
 * descriptor: out of them, a connect fails at once (EMFILE: reason "error"). A probe slowed
 * down by a busy machine (other test files run beside this one) is a timeout, not that.
 */
async function probesEveryComponent(exporter: ExporterProcess, servers: number): Promise<void> {
  const online = async () => ((await metrics(exporter)).match(/^appcluster_server_online\{[^}]*\} 1$/gm) ?? []).length;
  const probes = async () => Number(/^appcluster_exporter_probes_total\{result="success"\} (\d+)/m.exec(await metrics(exporter))?.[1] ?? 0);
  await waitFor('every server online', async () => ((await online()) === servers ? true : undefined), 30_000);
  const before = await probes();
  await waitFor('two more rounds', async () => ((await probes()) - before >= 4 * servers ? true : undefined), 30_000);
  const failures = (await metrics(exporter)).match(/^appcluster_component_probe_failures_total\{[^}]*\} \d+$/gm) ?? [];
  expect(failures.filter((l) => !l.includes('reason="timeout"'))).toEqual([]);
  await waitFor('every server online after those rounds', async () => ((await online()) === servers ? true : undefined), 20_000);
}

const openFiles = (exporter: ExporterProcess): number => readdirSync(`/proc/${exporter.child.pid}/fd`).length;

// Plain HTTP keeps at most 1,024 connections alive (PLAIN_KEEP_ALIVE): 1,300 components under
// an open-file limit of 2,600 (1,438 slots: 650 kept back for probes that connect afresh, 512 for
// the web server's connections) keep 1,024, and the other 276 connect afresh for
// each probe, without a warning.
describe('plain HTTP: at most 1,024 connections kept between probes', () => {
  const run = underLimit(2600, 650, false, { heartbeatInterval: '3s', probeTimeout: '2s' });

  it('probes every component and keeps 1,024 connections open, not one per component', async () => {
    await probesEveryComponent(run.exporter, 650);
    // One per component would be 1,300 and more; what is open beyond the 1,024 is the
    // exporter's own files and the few probes running at this instant.
    const open = openFiles(run.exporter);
    expect(open).toBeGreaterThan(PLAIN_KEEP_ALIVE);
    expect(open).toBeLessThan(1200);
    expect(run.exporter.output()).not.toContain('ulimit -n');
  });

  it('--config.check passes the file without a warning', () => {
    const r = run.check();
    expect(r.stdout).toContain('valid (1 clusters, 1300 components)');
    expect(r.stderr).not.toContain('warning');
    expect(r.status).toBe(0);
  });
});

// TLS keeps a connection per server alive, as the open-file limit allows: under a limit of
// 1,152, keep-alive for 128 of 300 components (1,152 less 512 kept back for probes and 512
// for the web server's connections), a new connection (and
// handshake) per probe for the other 172.
describe('TLS: kept-alive connections within the open-file limit', () => {
  const run = underLimit(1152, 150, true);

  it('warns once, naming ulimit -n and the figure to raise it to', async () => {
    await waitFor('the warning', async () => (run.exporter.output().includes('ulimit -n') ? true : undefined), 10_000);
    const lines = run.exporter.output().split('\n').filter((l) => l.includes('ulimit -n'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/level=warn .*172 of 300 TLS probes open a new connection every time: the open-file limit \(ulimit -n, now 1152\) leaves keep-alive for 128; raise it to at least 1324/);
  });

  it('probes every component, and keeps the connections it may open', async () => {
    await probesEveryComponent(run.exporter, 150);
    expect(openFiles(run.exporter)).toBeGreaterThan(128);
  });

  it('--config.check prints the same warning and still passes the file', () => {
    const r = run.check();
    expect(r.stdout).toContain('valid (1 clusters, 300 components)');
    expect(r.stderr).toContain('warning: 172 of 300 TLS probes open a new connection every time');
    expect(r.status).toBe(0);
  });
});
