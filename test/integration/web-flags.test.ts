import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { MAIN, spawnExporter, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir } from '../helpers/stack.js';

let dir: string;
let sim: SimCluster;
let configFile: string;
let exporter: ExporterProcess | undefined;

beforeAll(async () => {
  dir = await tempDir();
  sim = new SimCluster({ servers: 1, components: [{ name: 'web', port: 8080 }], baseAddress: randomBase() });
  await sim.start();
  configFile = join(dir, 'config.yml');
  await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '1s', probeTimeout: '500ms' }));
});
afterEach(async () => {
  await exporter?.stop();
  exporter = undefined;
});
afterAll(() => sim.stop());

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const underLimit = (limit: number) => ['prlimit', `--nofile=${limit}:${limit}`, '--'];
/** The exporter's command line run to its end (a start that fails, `--config.check`). */
const run = (args: string[], limit?: number) => {
  const argv = [...(limit === undefined ? [] : underLimit(limit)), process.execPath, MAIN, '--web.listen-address=127.0.0.1:0', `--config.file=${configFile}`, ...args];
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
};

describe('--web.enable-lifecycle', () => {
  it('is off by default: POST /-/reload answers 403, while SIGHUP still reloads, web-config.yml included', async () => {
    const webConfig = join(dir, 'web-lifecycle.yml');
    await writeFile(webConfig, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('before', 4)}\n`);
    exporter = await spawnExporter([`--config.file=${configFile}`, `--web.config.file=${webConfig}`]);
    const before = basic('prometheus', 'before');
    const refused = await fetch(`${exporter.url}/-/reload`, { method: 'POST', headers: { authorization: before } });
    expect([refused.status, await refused.text()]).toEqual([403, 'Lifecycle API is not enabled.\n']);
    await writeFile(webConfig, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('after', 4)}\n`);
    exporter.child.kill('SIGHUP');
    const url = exporter.url;
    await expect.poll(async () => (await fetch(`${url}/-/healthy`, { headers: { authorization: basic('prometheus', 'after') } })).status, { timeout: 10_000 }).toBe(200);
    expect((await fetch(`${url}/-/healthy`, { headers: { authorization: before } })).status).toBe(401);
    expect(exporter.output()).toContain('msg="web config reloaded"');
  });

  it('set, lets POST /-/reload reload', async () => {
    exporter = await spawnExporter([`--config.file=${configFile}`, '--web.enable-lifecycle']);
    const res = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
    expect([res.status, await res.text()]).toEqual([200, 'Unchanged.\n']);
  });
});

describe('--web.max-connections', () => {
  it('is in --help with its default, and takes only a positive integer', () => {
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' }).stdout;
    expect(help).toContain('--web.max-connections=N      most connections open at once, a new one closed past it (default: 512)');
    expect(help).toContain('--web.enable-lifecycle       let POST /-/reload reload (without it: 403); SIGHUP always reloads');
    const agentHelp = spawnSync(process.execPath, [MAIN, 'agent', '--help'], { encoding: 'utf8' }).stdout;
    expect(agentHelp).toContain('--web.max-connections=N      most connections open at once, a new one closed past it (default: 512)');
    for (const bad of ['0', '-1', '1.5', 'many']) {
      const r = run([`--web.max-connections=${bad}`]);
      expect([bad, r.status]).toEqual([bad, 2]);
      expect(r.stderr).toContain('--web.max-connections must be a positive integer');
    }
  });

  it('refuses to start when the value given and the probes\' reserve exceed the open-file limit', () => {
    const r = run(['--web.max-connections=1000'], 1024);
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toContain(
      "--web.max-connections=1000 does not fit: the open-file limit (ulimit -n, now 1024) less what the probes keep back (512, for connections up to --probe.concurrency and the exporter's own files) leaves 512 for the web server; lower --web.max-connections to at most 512, or raise the limit to at least 1512",
    );
    // --config.check says the same, and fails as the start would.
    const check = run(['--config.check', '--web.max-connections=1000'], 1024);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('--web.max-connections=1000 does not fit');
  });

  it('lowers the default to what fits under a small limit, with a warning, and --config.check prints it', async () => {
    exporter = await spawnExporter([`--config.file=${configFile}`], process.env, underLimit(700));
    expect(exporter.output()).toMatch(/level=warn msg="--web\.max-connections lowered from 512 to 188: the open-file limit \(ulimit -n, now 700\) .* raise the limit to at least 1024 to serve 512"/);
    expect((await fetch(`${exporter.url}/-/healthy`)).status).toBe(200);
    const check = run(['--config.check'], 700);
    expect(check.status).toBe(0);
    expect(check.stderr).toContain(`${configFile}: warning: --web.max-connections lowered from 512 to 188`);
    // Under a limit that fits it, no word of it.
    const roomy = run(['--config.check'], 2048);
    expect([roomy.status, roomy.stderr]).toEqual([0, '']);
  });
});
