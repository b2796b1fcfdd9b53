import { Registry } from 'prom-client';
import type { Config } from '../../src/config/types.js';
import { Judgement, type History } from '../../src/evaluate/evaluate.js';
import type { ClusterEvent } from '../../src/evaluate/events.js';
import type { ComponentRecord, Observation } from '../../src/evaluate/record.js';
import { wholeExposition } from '../../src/metrics/render.js';
import { Transitions } from '../../src/monitor/transitions.js';

/**
 * The monitor's way round, without its sockets or its thread: records for `cfg`, results
 * folded into them, rounds judged at given instants (ms since the epoch) with the very
 * functions the monitor uses, each round's snapshot and /metrics text. `configure` swaps the
 * configuration as a reload does, keeping the records of what stays.
 */
export function rounds(cfg: Config, startMs: number) {
  const records = new Map<string, ComponentRecord>();
  const transitions = new Transitions();
  let current = cfg;
  const configure = (next: Config, nowMs: number): void => {
    const keys = new Set<string>();
    for (const c of next.clusters) for (const s of c.servers) for (const x of s.components) keys.add(x.key);
    for (const k of records.keys()) if (!keys.has(k)) records.delete(k);
    for (const k of keys) if (!records.has(k)) records.set(k, { failures: {} });
    transitions.configure(next, records, nowMs);
    current = next;
  };
  configure(cfg, startMs);
  const history: History = { since: (c, s) => transitions.since(c, s), recentEvents: () => [] };
  return {
    configure,
    transitions,
    /** Folds one result of `component` of `server` (in the first cluster) into its record. */
    fold(server: string, component: string, obs: Partial<Observation> & { success: boolean; finishedMs: number }): void {
      const check = transitions.check(current.clusters[0]!.name, server)!;
      transitions.fold(check, check.server.components.findIndex((c) => c.name === component), { durationMs: 1, ...obs });
    },
    /** One round at `nowMs`: its events, the snapshot taken in it, and its /metrics text. */
    round(nowMs: number): { events: ClusterEvent[]; snapshot: ReturnType<Judgement['snapshot']>; metrics: () => Promise<string> } {
      const events = transitions.judge(nowMs);
      const judgement = new Judgement(current, records, nowMs, history);
      return { events, snapshot: judgement.snapshot(), metrics: async () => (await wholeExposition(judgement, new Registry())).toString() };
    },
  };
}
