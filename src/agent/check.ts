import type { AgentConfig, AgentFact } from './config.js';
import { withDeadline } from './collector.js';
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
      try {
        await withDeadline(fact.read(), config.readTimeoutMs);
        return undefined;
      } catch (err) {
        return { fact, error: err instanceof FactError ? err : new FactError('error', err instanceof Error ? err.name : 'error') };
      }
    }),
  );
  return results.filter((r): r is Unreadable => r !== undefined);
}
