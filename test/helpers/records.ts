import type { Config } from '../../src/config/types.js';
import { observe, recordKey, type ComponentRecord, type Observation } from '../../src/evaluate/record.js';

/** Records for a scenario: `set('c', 's', 'web', {...})` folds one observation in. */
export function recordsFor(config: Config) {
  const records = new Map<string, ComponentRecord>();
  for (const c of config.clusters) {
    for (const s of c.servers) for (const comp of s.components) records.set(recordKey(c.name, s.name, comp.name), { failures: {} });
  }
  return {
    records,
    set(cluster: string, server: string, component: string, obs: Partial<Observation> & { success: boolean }): void {
      const r = records.get(recordKey(cluster, server, component));
      if (!r) throw new Error(`no component ${cluster}/${server}/${component}`);
      observe(r, { finishedMs: 1_000_000, durationMs: 12, ...obs });
    },
  };
}
