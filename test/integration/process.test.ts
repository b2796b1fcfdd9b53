import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { MAIN, spawnExporter, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

const examples = join(import.meta.dirname, '../../examples');
const invalid = join(import.meta.dirname, '../fixtures/config/invalid');

describe('--config.check', () => {
  it('exits 0 on a valid file and says so', () => {
    const r = spawnSync(process.execPath, [MAIN, '--config.check', `--config.file=${join(examples, 'demo.yml')}`], { encoding: 'utf8' });
    expect(r.stdout).toContain('valid (1 clusters, 6 components)');
    expect(r.status).toBe(0);
  });
  it('exits 1 on an invalid file and names file, line and field', () => {
    const file = join(invalid, 'bad-role.yml');
    const r = spawnSync(process.execPath, [MAIN, '--config.check', `--config.file=${file}`], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe(`${file}:6:46: clusters[0].servers[0].role: must be one of active, standby, got "passive"`);
    expect(r.status).toBe(1);
  });
  it('checks every URL template against every server, naming the server it fails for', () => {
    const file = join(invalid, 'template-not-a-url.yml');
    const r = spawnSync(process.execPath, [MAIN, '--config.check', `--config.file=${file}`], { encoding: 'utf8' });
    expect(r.stderr.trim()).toBe(
      `${file}:10:9: clusters[0].servers[1]: server "b", component "web": url "http://{address}:{labels.port}/health" gives "http://127.0.0.2:80a/health", which is not a URL`,
    );
    expect(r.status).toBe(1);
  });
  it('rejects an unknown flag with usage', () => {
    const r = spawnSync(process.execPath, [MAIN, '--web.listen-adress=:1'], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/Unknown option '--web.listen-adress'/);
    expect(r.status).toBe(2);
  });
});

describe('the running exporter', () => {
  let sim: SimCluster;
  let dir: string;
  let configFile: string;
  let exporter: ExporterProcess;

  beforeAll(async () => {
    sim = new SimCluster({ servers: 3, components: [{ name: 'web', port: 8080 }], baseAddress: randomBase() });
    await sim.start();
    dir = await tempDir();
    configFile = join(dir, 'config.yml');
    await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '1s', probeTimeout: '500ms' }));
    exporter = await spawnExporter([`--config.file=${configFile}`, '--web.enable-lifecycle']);
  });
  afterAll(async () => {
    await exporter.stop();
    await sim.stop();
  });

  const metrics = async () => (await fetch(`${exporter.url}/metrics`)).text();
  const servers = async () => (await metrics()).match(/^appcluster_server_info\{[^}]*server="([^"]+)"/gm)?.length ?? 0;

  it('is healthy at once and ready after every component was probed', async () => {
    expect((await fetch(`${exporter.url}/-/healthy`)).status).toBe(200);
    await waitFor('ready', async () => ((await fetch(`${exporter.url}/-/ready`)).status === 200 ? true : undefined));
    expect(await metrics()).toMatch(/appcluster_server_online\{app_cluster="sim",server="node-3"\} 1/);
  });

  it('reloads a good file on POST /-/reload and drops removed servers from the next scrape', async () => {
    const text = await readFile(configFile, 'utf8');
    const twoServers = text.replace(/\n {6}- name: node-3\n(?: {8}.*\n)+/, '\n');
    expect(twoServers).not.toContain('node-3');
    await writeFile(configFile, twoServers);
    const res = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
    expect(await res.text()).toBe('Reloaded.\n');
    expect(await servers()).toBe(2);
    expect(await metrics()).toContain('appcluster_exporter_config_last_reload_successful 1');
    const again = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
    expect(await again.text()).toBe('Unchanged.\n');
  });

  it('keeps the running config on a bad file, reports it, and recovers on SIGHUP with a good one', async () => {
    const good = await readFile(configFile, 'utf8');
    await writeFile(configFile, good.replace('role: active', 'role: boss'));
    const res = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/config\.yml:\d+:\d+: clusters\[0\]\.servers\[0\]\.role: must be one of active, standby, got "boss"/);
    expect(await metrics()).toContain('appcluster_exporter_config_last_reload_successful 0');
    expect(await servers()).toBe(2);
    expect(exporter.output()).toMatch(/level=error msg="config reload failed; keeping the running configuration"/);

    await writeFile(configFile, good.replace('heartbeat_interval: 1s', 'heartbeat_interval: 2s'));
    exporter.child.kill('SIGHUP');
    await waitFor('reload by SIGHUP', async () =>
      (await metrics()).includes('appcluster_cluster_heartbeat_interval_seconds{app_cluster="sim"} 2') ? true : undefined,
    );
    expect(await metrics()).toContain('appcluster_exporter_config_last_reload_successful 1');
  });

  it('stops gracefully on SIGTERM', async () => {
    const code = await exporter.stop();
    expect(code).toBe(0);
    expect(exporter.output()).toContain('msg=stopping signal=SIGTERM');
  });
});
