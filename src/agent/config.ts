import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { keyHash } from '../config/key-hash.js';
import { parseYaml, readConfigText } from '../config/reader.js';
import { readSecret } from '../config/secrets.js';
import { factKinds } from './facts/registry.js';
import type { FactContext, FactReader } from './facts/types.js';

export const AGENT_DEFAULTS = {
  minIntervalMs: 5_000,
  readTimeoutMs: 10_000,
  fileSizeLimit: 1024 * 1024,
} as const;

/** Shortest fingerprint secret: a short one could be guessed from published fingerprints of weak keys. */
const MIN_SECRET_LENGTH = 16;
/** Fact names are JSON path segments for the exporter's `extract` (`facts.NAME.field`). */
const FACT_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export interface AgentFact {
  readonly name: string;
  /** The kind's name: `fingerprint`, `value`, `process`, `tcp` or `http`. */
  readonly kind: string;
  readonly read: FactReader;
}

/**
 * The agent's configuration:
 *
 *   min_interval: 5s                    # facts are read at most this often (default 5s)
 *   read_timeout: 10s                   # longest one fact may take (default 10s)
 *   file_size_limit: 1MiB               # most bytes read from one file (default 1MiB)
 *   fingerprint_secret_file: secret     # HMAC key, the same on every node (or fingerprint_secret_env)
 *   facts:
 *     NAME: { KIND: { settings } }      # in the order served
 *
 * Paths are relative to the file.
 */
export interface AgentConfig {
  readonly file: string;
  readonly minIntervalMs: number;
  /** A fact not read within this is served as the error `timeout`. */
  readonly readTimeoutMs: number;
  readonly fileSizeLimit: number;
  readonly facts: readonly AgentFact[];
}

/** Reads and validates an agent configuration. Throws ConfigError naming file, line, column and field. */
export async function loadAgentConfig(file: string): Promise<AgentConfig> {
  return parseAgentConfig(await readConfigText(file), file);
}

/** Validates agent configuration text; `file` names it in errors and anchors relative paths. */
export function parseAgentConfig(text: string, file: string): AgentConfig {
  const root = parseYaml(text, file);
  if (!root) throw new ConfigError(file, 1, 1, '', 'the file is empty; it needs "facts"');
  const baseDir = dirname(resolve(file));
  const minIntervalMs = root.duration('min_interval', 3_600_000) ?? AGENT_DEFAULTS.minIntervalMs;
  const readTimeoutMs = root.duration('read_timeout', 300_000) ?? AGENT_DEFAULTS.readTimeoutMs;
  const fileSizeLimit = root.size('file_size_limit') ?? AGENT_DEFAULTS.fileSizeLimit;
  const secret = readSecret(root, 'fingerprint_secret', baseDir);
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    const field = root.has('fingerprint_secret_file') ? 'fingerprint_secret_file' : 'fingerprint_secret_env';
    throw root.error(field, `the secret must be at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`);
  }
  const ctx: FactContext = {
    baseDir,
    fileSizeLimit,
    fingerprint: secret === undefined ? undefined : (raw) => keyHash(secret, raw),
  };
  const factsReader = root.map('facts');
  if (!factsReader || factsReader.keys().length === 0) throw root.error(factsReader ? 'facts' : undefined, 'needs "facts" (at least one)');
  const facts: AgentFact[] = factsReader.keys().map((name) => {
    if (!FACT_NAME.test(name)) throw factsReader.error(name, `fact name "${name}" must match [a-zA-Z_][a-zA-Z0-9_]*`);
    const fact = factsReader.map(name);
    if (!fact) throw factsReader.error(name, `must be a mapping with one fact kind (${Object.keys(factKinds).join(', ')})`);
    const kinds = fact.keys();
    if (kinds.length !== 1) throw fact.error(undefined, `must hold exactly one fact kind (${Object.keys(factKinds).join(', ')})`);
    const kind = kinds[0]!;
    const make = factKinds[kind];
    if (!make) throw fact.error(kind, `unknown fact kind "${kind}"; known: ${Object.keys(factKinds).join(', ')}`);
    const read = make(fact.requiredMap(kind), ctx);
    fact.finish();
    return { name, kind, read };
  });
  factsReader.finish();
  root.finish();
  return { file, minIntervalMs, readTimeoutMs, fileSizeLimit, facts };
}

