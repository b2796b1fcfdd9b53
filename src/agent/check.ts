import type { AgentConfig, AgentFact } from './config.js';
import { readOnce } from './collector.js';
import { FactError } from './facts/types.js';

/** A fact the check could not read, and why (the reason and detail the agent would serve). */
export interface Unreadable {
  readonly fact: AgentFact;
  readonly error: FactError;
}

/**
 * Reads each fact of `config` once, as the agent reads them for an answer (at once, each
 * within `read_timeout`), and returns those that cannot be read: a file that is not there,
 * an XML or JSON path that selects nothing (`InedoAppConfig.EncryptionKy`), a process
 * that cannot be looked up. Run on the node as the agent's user, it says what the agent
 * will serve as errors; nothing read is returned or printed, only the failures.
 */
export async function unreadableFacts(config: AgentConfig): Promise<Unreadable[]> {
  const results = await Promise.all(
    config.facts.map(async (fact): Promise<Unreadable | undefined> => {
      const read = await readOnce(fact, config.readTimeoutMs);
      return read instanceof FactError ? { fact, error: read } : undefined;
    }),
  );
  return results.filter((r): r is Unreadable => r !== undefined);
}
