import type { Probe } from '../probes/types.js';

export type Role = 'active' | 'standby';

/** One component as one server runs it, with cluster, component and server settings merged. */
export interface ComponentConfig {
  readonly name: string;
  /** Identifies the component's record across reloads: cluster, server and component name. */
  readonly key: string;
  readonly required: boolean;
  readonly probeTimeoutMs: number;
  readonly staleTimeoutMs: number;
  readonly probeKind: string;
  /** The probe, bound to this server. */
  readonly probe: Probe;
}

export interface ServerConfig {
  readonly name: string;
  readonly address: string;
  readonly site: string;
  readonly role: Role;
  readonly labels: Readonly<Record<string, string>>;
  readonly components: readonly ComponentConfig[];
}

export interface ClusterConfig {
  readonly name: string;
  readonly heartbeatIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly staleTimeoutMs: number;
  readonly loadBalancing: boolean;
  readonly automaticFailover: boolean;
  readonly expectedVersion?: string;
  readonly servers: readonly ServerConfig[];
}

/** A loaded, validated configuration. Immutable; a reload swaps it whole. */
export interface Config {
  readonly file: string;
  /** SHA-256 of the file's bytes, so an unchanged file is not reloaded. */
  readonly hash: string;
  readonly clusters: readonly ClusterConfig[];
  /** Things the operator should fix that do not stop the configuration from loading. */
  readonly warnings: readonly string[];
  /** Closes every probe's connection pools. */
  close(): Promise<void>;
}
