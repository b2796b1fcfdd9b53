import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FactEntry, FactsDocument } from '../../src/agent/collector.js';
import { startAgent, type RunningAgent } from '../../src/agent/server.js';
import { createLogger } from '../../src/log.js';
import { MAIN, spawnListening } from './process.js';

/** A ProGet shared configuration file (root InedoAppConfig) holding `key`. */
export function progetConfig(key: string, extra = ''): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<InedoAppConfig>
  <ConnectionString Type="SqlServer">Data Source=db.example.internal;Initial Catalog=ProGet</ConnectionString>
  <EncryptionKey>${key}</EncryptionKey>
  <WebServer Enabled="true" Urls="http://*:8624/" />${extra}
</InedoAppConfig>
`;
}

/** A fact the agent read, with its kind's fields. */
export type ReadFact = Extract<FactEntry, { ok: true }>;

/**
 * `entry` when the agent read it, else an error saying why not: a field of a fact that
 * failed would otherwise be compared as `undefined`, which two failed facts share.
 */
export function readFact(entry: FactEntry | undefined): ReadFact {
  if (!entry) throw new Error('no such fact in the document');
  if (!entry.ok) throw new Error(`the ${entry.kind} fact was not read: ${entry.error} (${entry.detail})`);
  return entry;
}

export interface TestAgent {
  readonly agent: RunningAgent;
  readonly logLines: string[];
  facts(): Promise<FactsDocument>;
  fact(name: string): Promise<FactEntry>;
}

/** Writes `configText` as `name` in `dir` and starts an agent on it in this process. */
export async function startTestAgent(dir: string, name: string, configText: string, listenAddress = '127.0.0.1:0', webConfigFile?: string): Promise<TestAgent> {
  const configFile = join(dir, name);
  await writeFile(configFile, configText);
  const logLines: string[] = [];
  const agent = await startAgent({
    configFile,
    listenAddress,
    webConfigFile,
    logger: createLogger('debug', 'logfmt', { write: (s: string) => logLines.push(s) }),
    processMetrics: false,
  });
  const facts = async (): Promise<FactsDocument> => {
    const res = await fetch(`${agent.url}/api/v1/facts`, { signal: AbortSignal.timeout(10_000) });
    if (res.status !== 200) throw new Error(`facts answered ${res.status}`);
    return (await res.json()) as FactsDocument;
  };
  return {
    agent,
    logLines,
    facts,
    fact: async (n) => {
      const f = (await facts()).facts[n];
      if (!f) throw new Error(`no fact ${n}`);
      return f;
    },
  };
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * Runs `appcluster-exporter agent` from dist/ as users do and waits for its "listening"
 * line. `wrapper` is a command that execs the rest, such as `setpriv ... --`.
 */
export function spawnAgent(args: string[], options: { env?: NodeJS.ProcessEnv; wrapper?: string[] } = {}): Promise<AgentProcess> {
  return spawnListening('agent', [process.execPath, MAIN, 'agent', '--web.listen-address=127.0.0.1:0', ...args], options.env ?? process.env, options.wrapper);
}
