/**
 * Sharding as users run it: exporter processes started with --shard.index/--shard.count on
 * one configuration, their /metrics read over loopback.
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { shardOf } from '../../src/config/shard.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { MAIN, spawnExporter, type ExporterProcess } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';

const CLUSTERS = 30;
const SERVERS_PER_CLUSTER = 2;

/** A configuration of `names.length` clusters, each with its own servers of `sim`. */
function configOf(sim: SimCluster, names: readonly string[]): string {
  return stringify({
    global: { heartbeat_interval: '1s', probe_timeout: '500ms', stale_timeout: '5s' },
    clusters: names.map((name, i) => ({
      name,
      components: sim.options.components.map((c) => ({ name: c.name, probe: { http: { url: `http://{address}:${c.port}/health` } }, status: 'status', version: 'version' })),
      servers: sim.servers.slice(i * SERVERS_PER_CLUSTER, (i + 1) * SERVERS_PER_CLUSTER).map((s) => ({ name: s.name, address: s.address })),
    })),
  });
}

/** Every app_cluster of a /metrics page, with how many servers each has there. */
function serversByCluster(page: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const m of page.matchAll(/^appcluster_server_online\{app_cluster="([^"]+)",server="[^"]+"\}/gm)) found.set(m[1]!, (found.get(m[1]!) ?? 0) + 1);
  return found;
}

function clustersNamed(page: string): Set<string> {
  return new Set([...page.matchAll(/app_cluster="([^"]+)"/g)].map((m) => m[1]!));
}

async function ready(e: ExporterProcess): Promise<void> {
  await waitFor('exporter ready', async () => ((await fetch(`${e.url}/-/ready`)).status === 200 ? true : undefined), 20_000);
}

const names = Array.from({ length: CLUSTERS }, (_, i) => `customer-${String(i).padStart(2, '0')}`);

describe('three shards on one 30-cluster configuration', () => {
  let sim: SimCluster;
  let exporters: ExporterProcess[] = [];

  beforeAll(async () => {
    sim = new SimCluster({ servers: CLUSTERS * SERVERS_PER_CLUSTER, components: [{ name: 'web', port: 8080 }], baseAddress: randomBase() });
    await sim.start();
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(configFile, configOf(sim, names));
    exporters = await Promise.all([0, 1, 2].map((i) => spawnExporter([`--config.file=${configFile}`, '--web.enable-lifecycle', `--shard.index=${i}`, '--shard.count=3'])));
    await Promise.all(exporters.map(ready));
  });
  afterAll(async () => {
    await Promise.all(exporters.map((e) => e.stop()));
    await sim?.stop();
  });

  it('cover every cluster exactly once, each whole', async () => {
    const pages = await Promise.all(exporters.map(async (e) => (await fetch(`${e.url}/metrics`)).text()));
    const owners = new Map<string, number[]>();
    pages.forEach((page, index) => {
      const servers = serversByCluster(page);
      // Every series of a cluster comes from the shard that owns it, with all its servers.
      expect(clustersNamed(page)).toEqual(new Set(servers.keys()));
      for (const [cluster, count] of servers) {
        expect(count, `${cluster} on shard ${index}`).toBe(SERVERS_PER_CLUSTER);
        owners.set(cluster, [...(owners.get(cluster) ?? []), index]);
      }
      expect(page).toContain(`appcluster_exporter_shard_info{index="${index}",count="3"} 1\n`);
      expect(page).toContain(`appcluster_exporter_shard_clusters ${servers.size}\n`);
      expect(page).toContain(`appcluster_exporter_shard_components ${servers.size * SERVERS_PER_CLUSTER}\n`);
      // A shard that owned nothing would make this test say nothing about spreading.
      expect(servers.size, `shard ${index}`).toBeGreaterThan(0);
    });
    expect([...owners.keys()].sort()).toEqual(names);
    for (const [cluster, shards] of owners) {
      expect(shards, cluster).toHaveLength(1);
      expect(shards[0], cluster).toBe(shardOf(cluster, 3));
    }
  });

  it('each status API shows only its own clusters', async () => {
    const shown = await Promise.all(
      exporters.map(async (e) => {
        const body = (await (await fetch(`${e.url}/api/v1/status`)).json()) as { data: { clusters: { name: string }[] } };
        return body.data.clusters.map((c) => c.name);
      }),
    );
    shown.forEach((clusters, index) => {
      for (const c of clusters) expect(shardOf(c, 3), c).toBe(index);
    });
    expect(shown.flat().sort()).toEqual(names);
  });
});

describe('a shard that owns no cluster', () => {
  let sim: SimCluster;
  let exporter: ExporterProcess | undefined;
  let configFile: string;
  // One cluster, and the other of two shards.
  const only = 'lonely';
  const empty = 1 - shardOf(only, 2);
  // A name that hashes to the empty shard, for the reload.
  const mine = names.find((n) => shardOf(n, 2) === empty)!;

  beforeAll(async () => {
    sim = new SimCluster({ servers: 2 * SERVERS_PER_CLUSTER, components: [{ name: 'web', port: 8080 }], baseAddress: randomBase() });
    await sim.start();
    configFile = join(await tempDir(), 'config.yml');
    await writeFile(configFile, configOf(sim, [only]));
  });
  afterAll(async () => {
    await exporter?.stop();
    await sim?.stop();
  });

  it('starts, says so in the log, is ready and exports no cluster', async () => {
    exporter = await spawnExporter([`--config.file=${configFile}`, '--web.enable-lifecycle', `--shard.index=${empty}`, '--shard.count=2']);
    await waitFor('the log line', () => (/msg="this shard owns no cluster/.test(exporter!.output()) ? true : undefined));
    expect(exporter.output()).toMatch(new RegExp(`level=info msg="this shard owns no cluster[^"]*" shard=${empty} shards=2 clusters=0 of=1 components=0`));
    expect((await fetch(`${exporter.url}/-/ready`)).status).toBe(200);
    const page = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(page).not.toContain('app_cluster=');
    expect(page).toContain(`appcluster_exporter_shard_info{index="${empty}",count="2"} 1\n`);
    expect(page).toContain('appcluster_exporter_shard_clusters 0\n');
    expect(page).toContain('appcluster_exporter_shard_components 0\n');
  });

  it('takes up a cluster that a reloaded configuration gives it', async () => {
    await writeFile(configFile, configOf(sim, [only, mine]));
    expect(await (await fetch(`${exporter!.url}/-/reload`, { method: 'POST' })).text()).toBe('Reloaded.\n');
    const page = await (await fetch(`${exporter!.url}/metrics`)).text();
    expect(clustersNamed(page)).toEqual(new Set([mine]));
    expect(page).toContain('appcluster_exporter_shard_clusters 1\n');
    expect(page).toContain(`appcluster_exporter_shard_components ${SERVERS_PER_CLUSTER}\n`);
  });
});

describe('--shard.from-pod-name, as a StatefulSet pod starts', () => {
  let sim: SimCluster | undefined;
  let exporter: ExporterProcess | undefined;
  afterAll(async () => {
    await exporter?.stop();
    await sim?.stop();
  });

  it("owns the clusters of its pod's ordinal, as --shard.index would", async () => {
    sim = new SimCluster({ servers: 4 * SERVERS_PER_CLUSTER, components: [{ name: 'web', port: 8080 }], baseAddress: randomBase() });
    await sim.start();
    const four = names.slice(0, 4);
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(configFile, configOf(sim, four));
    exporter = await spawnExporter([`--config.file=${configFile}`, '--shard.from-pod-name=appcluster-exporter-a-1', '--shard.count=2']);
    await ready(exporter);
    const page = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(page).toContain('appcluster_exporter_shard_info{index="1",count="2"} 1\n');
    expect(clustersNamed(page)).toEqual(new Set(four.filter((n) => shardOf(n, 2) === 1)));
  });
});

describe('bad shard flags', () => {
  it.each([
    [['--shard.index=3', '--shard.count=3'], '--shard.index must be an integer from 0 to 2 (below --shard.count=3), got "3"'],
    [['--shard.index=1'], '--shard.index must be an integer from 0 to 0 (below --shard.count=1), got "1"'],
    [['--shard.count=0'], '--shard.count must be an integer of at least 1, got "0"'],
    [['--shard.index=-1', '--shard.count=2'], '--shard.index must be an integer from 0 to 1 (below --shard.count=2), got "-1"'],
    [['--shard.from-pod-name=appcluster-exporter-a-1', '--shard.index=1', '--shard.count=2'], 'give --shard.index or --shard.from-pod-name, not both'],
    [['--shard.from-pod-name=appcluster-exporter-a-2', '--shard.count=2'], "--shard.from-pod-name=appcluster-exporter-a-2 is shard 2, not below --shard.count=2: set --shard.count to the StatefulSet's replicas"],
  ])('%j: a clear error and exit 2', (flags, message) => {
    // Checked before the configuration is read: the file does not exist.
    const r = spawnSync(process.execPath, [MAIN, '--config.file=/nonexistent.yml', ...flags], { encoding: 'utf8' });
    expect(r.stderr).toMatch(new RegExp(`^appcluster-exporter: ${message.replace(/[()[\]".-]/g, '\\$&')}\n\nusage:`));
    expect(r.status).toBe(2);
  });
});
