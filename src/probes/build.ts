import { randomBytes } from 'node:crypto';
import { keyHash } from '../config/key-hash.js';
import type { Config } from '../config/types.js';
import { KeepAliveBudget } from './fd-budget.js';
import { probeKinds } from './registry.js';
import type { EndpointProbe, PreparedEndpoint, ProbeKind } from './types.js';

/** The probes of one configuration: one per server endpoint, sharing pools per declared endpoint. */
export interface EndpointProbes {
  /** By `ServerEndpoint.key`. */
  readonly probes: ReadonlyMap<string, EndpointProbe>;
  /** Replaces a reported key or fingerprint by a 12-hex-digit HMAC-SHA-256. */
  readonly hashKey: (raw: string) => string;
  /** Things the operator should fix that do not stop probing (too few open files for keep-alive). */
  readonly warnings: readonly string[];
  /** Closes every connection pool; called once a reload has replaced these probes. */
  close(): Promise<void>;
}

// Without a configured secret, key hashes only need to agree within this process.
const processKeySecret = randomBytes(32);

/**
 * Builds the probes of a loaded configuration. Opens no connection until a probe runs.
 * `keySecret` keys fingerprints when the configuration sets no `key_hash_secret` (default:
 * one random secret per module instance; a thread that builds probes is given the
 * process's, so that fingerprints stay comparable whichever thread made them).
 */
export function buildProbes(config: Config, keySecret: Buffer = processKeySecret): EndpointProbes {
  const budget = new KeepAliveBudget();
  const ctx = { claimKeepAlive: (tls: boolean) => budget.claim(tls) };
  const prepared: PreparedEndpoint[] = [];
  const probes = new Map<string, EndpointProbe>();
  for (const cluster of config.clusters) {
    const byName = new Map<string, PreparedEndpoint>();
    for (const def of cluster.endpoints) {
      const kind = probeKinds[def.settings.kind] as ProbeKind;
      const p = kind(def.settings, ctx);
      byName.set(def.name, p);
      prepared.push(p);
    }
    for (const server of cluster.servers) {
      for (const e of server.endpoints) probes.set(e.key, byName.get(e.def.name)!.bind(e.target, e.needsJson));
    }
  }
  const secret = config.keyHashSecret?.reveal() ?? keySecret;
  const shortfall = budget.shortfall();
  return {
    probes,
    hashKey: (raw) => keyHash(secret, raw),
    warnings: shortfall ? [shortfall] : [],
    close: async () => {
      await Promise.all(prepared.map((p) => p.close()));
    },
  };
}
