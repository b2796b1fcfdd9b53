/**
 * `appcluster-sim serve --profile NAME` and the fault commands, run as users run them
 * (the built CLI), against a product-shaped cluster on this file's loopback addresses.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

const CLI = join(import.meta.dirname, '../../dist/src/sim/cli.js');

let child: ChildProcess;
let output = '';
let control: string;
let configFile: string;
const base = randomBase();

beforeAll(async () => {
  configFile = join(await tempDir(), 'exporter.yml');
  child = spawn(process.execPath, [CLI, 'serve', '--profile=etcd', `--base-address=${base}`, '--control=127.0.0.1:0', `--write-config=${configFile}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  control = await waitFor(`the simulator's control API in:\n${output}`, () => /control API (http:\S+)/.exec(output)?.[1]);
});
afterAll(async () => {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});

function sim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args, `--control-url=${control}`], { encoding: 'utf8' });
}

const health = async (n: number) => (await fetch(`http://${base.replace(/\d+$/, String(n))}:2379/health`)).status;

describe('appcluster-sim serve --profile etcd', () => {
  it('serves the profile on the given addresses and writes its exporter configuration', async () => {
    expect(output).toContain(`3 servers from etcd-1 on ${base}`);
    expect(await health(1)).toBe(200);
    const config = await loadConfigFile(configFile);
    expect(config.clusters[0]!.servers.map((s) => s.address)).toEqual([1, 2, 3].map((n) => base.replace(/\d+$/, String(n))));
    expect(config.clusters[0]!.servers[0]!.components.map((c) => c.name)).toEqual(['health', 'server', 'raft', 'metrics', 'peer']);
  });

  it('fault all quorum_loss, list, clear', async () => {
    const on = sim('fault', 'all', 'quorum_loss');
    expect(on.status, on.stderr).toBe(0);
    expect(on.stdout).toBe('all: quorum_loss on\n');
    expect(await Promise.all([1, 2, 3].map(health))).toEqual([503, 503, 503]);
    const list = JSON.parse(sim('list').stdout) as { name: string; components: { name: string; shape: string; faults: string[] }[] }[];
    expect(list[0]!.components).toEqual([
      { name: 'client', port: 2379, shape: 'etcd', faults: ['quorum_loss'] },
      { name: 'peer', port: 2380, shape: 'etcd-peer', faults: [] },
    ]);
    expect(sim('clear').status).toBe(0);
    expect(await Promise.all([1, 2, 3].map(health))).toEqual([200, 200, 200]);
  });

  it('a fault the product cannot show is refused with what each shape takes', () => {
    const r = sim('fault', 'etcd-1', 'database_error');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('fault "database_error" has no meaning on etcd-1: etcd takes down, hang, slow, http500, unhealthy');
    expect(r.stderr).toContain('etcd-peer takes down, hang, slow, http500, malformed, oversized, flapping');
  });
});

describe('appcluster-sim flags', () => {
  it('--help prints the usage; an unknown flag is refused with it, exit 2, no stack trace', () => {
    const help = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect([help.status, help.stdout.split('\n')[0]]).toEqual([0, 'usage: appcluster-sim COMMAND [flags]']);
    const bad = spawnSync(process.execPath, [CLI, '--nonsense'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^appcluster-sim: Unknown option '--nonsense'[\s\S]*usage: appcluster-sim/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});
