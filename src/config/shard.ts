import type { ClusterConfig, Config } from './types.js';

/**
 * Which part of the configured clusters this exporter probes and exports: shard `index` of
 * `count` (0 <= index < count). `{ index: 0, count: 1 }` owns every cluster.
 */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** The exporter without `--shard.*` flags: one shard that owns every cluster. */
export const WHOLE: Shard = { index: 0, count: 1 };

/**
 * Parses `--shard.index` and `--shard.count` (decimal integers). Throws an Error whose
 * message names the flag when the count is below 1 or the index is not in [0, count).
 */
export function parseShard(index: string, count: string): Shard {
  const i = /^\d+$/.test(index) ? Number(index) : NaN;
  const n = /^\d+$/.test(count) ? Number(count) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--shard.count must be an integer of at least 1, got "${count}"`);
  if (!Number.isSafeInteger(i) || i >= n) {
    throw new Error(`--shard.index must be an integer from 0 to ${n - 1} (below --shard.count=${n}), got "${index}"`);
  }
  return { index: i, count: n };
}

/**
 * The shard of a StatefulSet's pod, from its name: the ordinal Kubernetes appends
 * (`appcluster-exporter-2` is shard 2), as kube-state-metrics' automated sharding takes it
 * from `--pod`. Unlike kube-state-metrics, the count is not read from the Kubernetes API
 * (the exporter never calls it): `count` is `--shard.count`, set to the StatefulSet's
 * replicas. Throws an Error naming the flag when the name has no ordinal or the ordinal is
 * not below the count.
 */
export function parseShardFromPodName(podName: string, count: string): Shard {
  const ordinal = /-(\d+)$/.exec(podName)?.[1];
  if (ordinal === undefined) {
    throw new Error(`--shard.from-pod-name must be a StatefulSet pod's name, ending in -<ordinal>, got "${podName}"`);
  }
  try {
    return parseShard(ordinal, count);
  } catch {
    throw new Error(`--shard.from-pod-name=${podName} is shard ${ordinal}, not below --shard.count=${count}: set --shard.count to the StatefulSet's replicas`);
  }
}

const MASK64 = (1n << 64n) - 1n;

/** FNV-1a, 64 bits, of the UTF-8 bytes of `text` (the constants of the FNV reference, IETF draft-eastlake-fnv). */
export function fnv1a64(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & MASK64;
  return h;
}

/**
 * Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash
 * Algorithm", 2014): the bucket in [0, buckets) of a 64-bit key. Going from n to n+1
 * buckets moves only 1/(n+1) of the keys, all of them into the new bucket.
 */
export function jumpHash(key: bigint, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & MASK64;
    j = Math.floor((b + 1) * (2 ** 31 / (Number(key >> 33n) + 1)));
  }
  return b;
}

/**
 * The shard that owns a cluster: FNV-1a 64 of its name, then jump hash, as kube-state-metrics
 * shards objects by UID (pkg/sharding/listwatch.go). Every exporter with the same count
 * agrees, whatever the rest of its configuration; a whole cluster goes to one shard, since
 * version and key sync compare all of its servers.
 */
export function shardOf(clusterName: string, count: number): number {
  return jumpHash(fnv1a64(clusterName), count);
}

/**
 * The part of `config` that `shard` owns: the same file and hash (the store reloads the
 * whole file), with only the owned clusters.
 */
export function shardConfig(config: Config, shard: Shard): Config {
  if (shard.count === 1) return config;
  return { ...config, clusters: config.clusters.filter((c) => shardOf(c.name, shard.count) === shard.index) };
}

/** Components of all servers of `clusters`: what a shard probes each heartbeat interval. */
export function componentCount(clusters: readonly ClusterConfig[]): number {
  return clusters.reduce((n, c) => n + c.servers.reduce((m, s) => m + s.components.length, 0), 0);
}
