import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Secret } from '../../src/config/secret.js';
import { componentCount, fnv1a64, jumpHash, parseShard, parseShardFromPodName, shardConfig, shardOf } from '../../src/config/shard.js';

describe('the stable hash', () => {
  it('is FNV-1a 64 (reference test vectors)', () => {
    expect(fnv1a64('')).toBe(0xcbf29ce484222325n);
    expect(fnv1a64('a')).toBe(0xaf63dc4c8601ec8cn);
    expect(fnv1a64('foobar')).toBe(0x85944171f73967e8n);
  });

  // The buckets for 1..N buckets, generated from the paper's C++ code (as in dgryski/go-jump's
  // jump_test.go, which kube-state-metrics uses).
  it.each([
    [0n, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    [1n, [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17]],
    [0xdeadbeefn, [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16]],
    [0x0ddc0ffeebadf00dn, [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15]],
  ])('jump hash of %s matches the reference implementation', (key, buckets) => {
    expect(buckets.map((_, i) => jumpHash(key, i + 1))).toEqual(buckets);
  });

  it('moves a cluster only into the new shard when one is added', () => {
    const names = Array.from({ length: 500 }, (_, i) => `customer-${i}`);
    for (let n = 1; n < 8; n++) {
      const moved = names.filter((name) => shardOf(name, n) !== shardOf(name, n + 1));
      for (const name of moved) expect(shardOf(name, n + 1)).toBe(n);
      // About 1/(n+1) of them move; far fewer than with `hash % n`.
      expect(moved.length / names.length).toBeLessThan(2 / (n + 1));
    }
  });
});

describe('parseShard', () => {
  it('accepts an index below the count', () => {
    expect(parseShard('0', '1')).toEqual({ index: 0, count: 1 });
    expect(parseShard('2', '3')).toEqual({ index: 2, count: 3 });
  });

  it.each([
    ['3', '3', '--shard.index must be an integer from 0 to 2 (below --shard.count=3), got "3"'],
    ['-1', '3', '--shard.index must be an integer from 0 to 2 (below --shard.count=3), got "-1"'],
    ['1.5', '3', '--shard.index must be an integer from 0 to 2 (below --shard.count=3), got "1.5"'],
    ['0', '0', '--shard.count must be an integer of at least 1, got "0"'],
    ['0', 'two', '--shard.count must be an integer of at least 1, got "two"'],
    ['0', '', '--shard.count must be an integer of at least 1, got ""'],
  ])('rejects --shard.index=%s --shard.count=%s', (index, count, message) => {
    expect(() => parseShard(index, count)).toThrow(message);
  });
});

describe('parseShardFromPodName', () => {
  it("takes the index from a StatefulSet pod's ordinal", () => {
    expect(parseShardFromPodName('appcluster-exporter-a-0', '3')).toEqual({ index: 0, count: 3 });
    expect(parseShardFromPodName('appcluster-exporter-a-2', '3')).toEqual({ index: 2, count: 3 });
    expect(parseShardFromPodName('web-12', '13')).toEqual({ index: 12, count: 13 });
  });

  it.each([
    ['appcluster-exporter', '2', `--shard.from-pod-name must be a StatefulSet pod's name, ending in -<ordinal>, got "appcluster-exporter"`],
    ['appcluster-exporter-7d9f8-xk2lp', '2', `ending in -<ordinal>, got "appcluster-exporter-7d9f8-xk2lp"`],
    ['appcluster-exporter-2', '2', "--shard.from-pod-name=appcluster-exporter-2 is shard 2, not below --shard.count=2: set --shard.count to the StatefulSet's replicas"],
  ])('rejects %s of %s shards', (name, count, message) => {
    expect(() => parseShardFromPodName(name, count)).toThrow(message);
  });
});

describe('shardConfig', () => {
  const clusters = Array.from(
    { length: 30 },
    (_, i) => `  - name: customer-${String(i).padStart(2, '0')}
    components: [{ name: web, probe: { tcp: { port: 80 } } }, { name: service, probe: { tcp: { port: 81 } } }]
    servers: [{ name: a, address: 10.0.${i}.1 }, { name: b, address: 10.0.${i}.2 }]`,
  );
  // Every setting besides the clusters, so that a shard shown to carry them all over carries each.
  const config: Config = { ...parseConfig(`clusters:\n${clusters.join('\n')}\n`, 'shards.yml'), keyHashSecret: new Secret('shard-test') };
  const settings = Object.keys(config).filter((k): k is Exclude<keyof Config, 'clusters'> => k !== 'clusters');

  it.each([1, 2, 3, 5])('puts every cluster, whole, in exactly one of %i shards', (count) => {
    const parts = Array.from({ length: count }, (_, index) => shardConfig(config, { index, count }));
    const names = parts.flatMap((p) => p.clusters.map((c) => c.name));
    expect(names.sort()).toEqual(config.clusters.map((c) => c.name).sort());
    expect(parts.reduce((n, p) => n + componentCount(p.clusters), 0)).toBe(componentCount(config.clusters));
    for (const p of parts) {
      for (const c of p.clusters) expect(c).toBe(config.clusters.find((whole) => whole.name === c.name));
      expect(Object.keys(p).sort()).toEqual(Object.keys(config).sort());
      for (const k of settings) expect(p[k], k).toBe(config[k]);
    }
  });

  it('does not depend on the order or the rest of the configuration', () => {
    const reversed = parseConfig(`clusters:\n${[...clusters].reverse().join('\n')}\n`, 'reversed.yml');
    for (let index = 0; index < 3; index++) {
      const names = (c: typeof config) => shardConfig(c, { index, count: 3 }).clusters.map((x) => x.name).sort();
      expect(names(reversed)).toEqual(names(config));
    }
  });
});
