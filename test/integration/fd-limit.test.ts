import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { MAIN, spawnExporter, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

// 900 components under an open-file limit of 800: keep-alive for 288 of them (800 less
// 512 kept back), a new connection per probe for the other 612. Keeping all 900 alive
// would run out of file descriptors.
const LIMIT = 800;
const wrapper = ['prlimit', `--nofile=${LIMIT}:${LIMIT}`, '--'];

describe('more components than the open-file limit allows to keep alive', () => {
  let sim: SimCluster;
  let configFile: string;
  let exporter: ExporterProcess;

  beforeAll(async () => {
    sim = new SimCluster({ servers: 450, components: [{ name: 'web', port: 8080 }, { name: 'service', port: 8081 }], baseAddress: randomBase() });
    await sim.start();
    configFile = join(await tempDir(), 'config.yml');
    await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '2s', probeTimeout: '1500ms' }));
    exporter = await spawnExporter([`--config.file=${configFile}`], process.env, wrapper);
  });
  afterAll(async () => {
    await exporter?.stop();
    await sim?.stop();
  });

  it('warns once, naming ulimit -n and the figure to raise it to', () => {
    const lines = exporter.output().split('\n').filter((l) => l.includes('ulimit -n'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/level=warn .*612 of 900 probes open a new connection every time: the open-file limit \(ulimit -n, now 800\) leaves keep-alive for 288; raise it to at least 1412/);
  });

  it('probes every component, and stays within the limit while it does', async () => {
    const online = async () => ((await (await fetch(`${exporter.url}/metrics`)).text()).match(/^appcluster_server_online\{[^}]*\} 1$/gm) ?? []).length;
    await waitFor('every server online', async () => ((await online()) === 450 ? true : undefined), 15_000);
    // Two more rounds of probes: the components without keep-alive connect afresh each time.
    const before = await probes();
    await waitFor('two more rounds', async () => ((await probes()) - before >= 1800 ? true : undefined), 15_000);
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    // Out of file descriptors, a connect fails at once (EMFILE: reason "error"); a probe slowed
    // down by a busy machine (other test files run beside this one) is a timeout, not that.
    const failures = text.match(/^appcluster_component_probe_failures_total\{[^}]*\} \d+$/gm) ?? [];
    expect(failures.filter((l) => !l.includes('reason="timeout"'))).toEqual([]);
    await waitFor('every server online after those rounds', async () => ((await online()) === 450 ? true : undefined), 15_000);
    // The kept-alive connections are open (and the others are not, or probes would fail).
    expect(readdirSync(`/proc/${exporter.child.pid}/fd`).length).toBeGreaterThan(288);
  });

  it('--config.check prints the same warning and still passes the file', () => {
    const r = spawnSync('prlimit', [`--nofile=${LIMIT}:${LIMIT}`, '--', process.execPath, MAIN, '--config.check', `--config.file=${configFile}`], { encoding: 'utf8' });
    expect(r.stdout).toContain('valid (1 clusters, 900 components)');
    expect(r.stderr).toContain('warning: 612 of 900 probes open a new connection every time');
    expect(r.status).toBe(0);
  });

  async function probes(): Promise<number> {
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    return Number(/^appcluster_exporter_probes_total\{result="success"\} (\d+)/m.exec(text)?.[1] ?? 0);
  }
});
