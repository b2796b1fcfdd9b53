import type { Config, Reading, StatusRule } from '../../src/config/types.js';
import { buildProbes } from '../../src/probes/build.js';
import { read } from '../../src/probes/extract.js';
import type { ProbeResult } from '../../src/probes/types.js';

/**
 * Probes a configuration's components one at a time, as the monitor does (the component's
 * endpoint, then what the component reads from the answer), over real sockets.
 */
export function probesOf(config: Config) {
  const built = buildProbes(config);
  return {
    /** One probe of component `name` on the first server of the first cluster (or the named ones). */
    async probe(name: string, where: { cluster?: string; server?: string } = {}, timeoutMs = 5000): Promise<ProbeResult> {
      const cluster = where.cluster ? config.clusters.find((c) => c.name === where.cluster)! : config.clusters[0]!;
      const server = where.server ? cluster.servers.find((s) => s.name === where.server)! : cluster.servers[0]!;
      const component = server.components.find((c) => c.name === name)!;
      const answer = await built.probes.get(component.endpoint)!(AbortSignal.timeout(timeoutMs));
      return read(component.read, answer, built.hashKey);
    },
    close: () => built.close(),
  };
}

/** A reading as a test writes it: every part optional, the status `match` defaulting to `equals` as the loader's does. */
export type ReadingSpec = Omit<Partial<Reading>, 'status'> & {
  readonly status?: Omit<StatusRule, 'match'> & { readonly match?: StatusRule['match'] };
};

/** Reads an answer the way the http probe hands it over: `spec` as the loader would build it. */
export function extract(spec: ReadingSpec, body: unknown, headers: Record<string, string>, hash: (k: string) => string, now?: number): ProbeResult {
  const { status, ...rest } = spec;
  const reading: Reading = { values: {}, facts: {}, ...rest, ...(status ? { status: { match: 'equals', ...status } } : {}) };
  return read(reading, { success: true, body, headers }, hash, now);
}
