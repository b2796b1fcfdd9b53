import type { ProbeReason } from '../metrics/catalogue.js';
import type { ProbeResult } from '../probes/types.js';

/** The last probe of a component, with its timing. */
export interface Observation extends ProbeResult {
  readonly finishedMs: number;
  readonly durationMs: number;
}

/** What the monitor keeps per component: the last observation and running facts. */
export interface ComponentRecord {
  last?: Observation;
  lastSuccessMs?: number;
  /** Facts from the latest probe that reported each one. */
  version?: string;
  keyHash?: string;
  heartbeatMs?: number;
  os?: string;
  failures: Partial<Record<ProbeReason, number>>;
}

export function recordKey(cluster: string, server: string, component: string): string {
  return `${cluster}\u0000${server}\u0000${component}`;
}

/** Folds one observation into a record. */
export function observe(record: ComponentRecord, obs: Observation): void {
  record.last = obs;
  if (obs.success) record.lastSuccessMs = obs.finishedMs;
  else if (obs.reason) record.failures[obs.reason] = (record.failures[obs.reason] ?? 0) + 1;
  if (obs.version !== undefined) record.version = obs.version;
  if (obs.keyHash !== undefined) record.keyHash = obs.keyHash;
  if (obs.heartbeatMs !== undefined) record.heartbeatMs = obs.heartbeatMs;
  if (obs.os !== undefined) record.os = obs.os;
}
