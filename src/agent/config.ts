import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/errors.js';
import { keyHash } from '../config/key-hash.js';
import { readSecretRef, SecretRefError, type Secret } from '../config/secret.js';
import { parseYamlFile, readConfigText, validate, type Path, type YamlFile } from '../config/yaml-schema.js';
import { factKinds, type FactKindName } from './facts/registry.js';
import type { FactContext, FactKind, FactReader } from './facts/types.js';
import { agentSchema, KIND_NAMES, type AgentSettings } from './schema.js';

export const AGENT_DEFAULTS = {
  minIntervalMs: 5_000,
  readTimeoutMs: 10_000,
  fileSizeLimit: 1024 * 1024,
} as const;

/** Shortest fingerprint secret: a short one could be guessed from published fingerprints of weak keys. */
const MIN_SECRET_LENGTH = 16;

export interface AgentFact {
  readonly name: string;
  /** The kind's name: `fingerprint`, `value`, `process`, `tcp` or `http`. */
  readonly kind: string;
  readonly read: FactReader;
  /** Where the configuration declares it: `FILE:LINE:COLUMN`, for the check's report. */
  readonly at: string;
}

/** The agent's configuration as loaded (the file's syntax: `schema.ts`). Paths are relative to the file. */
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
  const yaml = parseYamlFile(text, file);
  if (yaml.value === undefined) throw new ConfigError(file, 1, 1, '', 'the file is empty; it needs "facts"');
  const settings = validate(yaml, agentSchema, { unknownField });
  const baseDir = dirname(resolve(file));
  const fileSizeLimit = settings.file_size_limit ?? AGENT_DEFAULTS.fileSizeLimit;
  const secret = readFingerprintSecret(yaml, baseDir, settings);
  const ctx: FactContext = {
    baseDir,
    fileSizeLimit,
    fingerprint: secret === undefined ? undefined : (raw) => keyHash(secret.reveal(), raw),
  };
  const facts = Object.entries(settings.facts).map(([name, fact]): AgentFact => {
    const [kind, kindSettings] = Object.entries(fact).find(([, v]) => v !== undefined)!;
    const path: Path = ['facts', name, kind];
    const make: FactKind = factKinds[kind as FactKindName];
    const read = make.build(kindSettings, ctx, (at, message) => yaml.error([...path, ...at], message));
    const where = yaml.error(['facts', name], '', true);
    return { name, kind, read, at: `${where.file}:${where.line}:${where.column}` };
  });
  return {
    file,
    minIntervalMs: settings.min_interval ?? AGENT_DEFAULTS.minIntervalMs,
    readTimeoutMs: settings.read_timeout ?? AGENT_DEFAULTS.readTimeoutMs,
    fileSizeLimit,
    facts,
  };
}

/** Messages for fields the schema does not know that say more than "unknown field". */
function unknownField(key: string, path: Path): string | undefined {
  if (path.length === 1 && key === 'fingerprint_secret') return 'inline secrets are not accepted; use fingerprint_secret_file or fingerprint_secret_env';
  if (path[0] !== 'facts') return undefined;
  if (path.length === 3) return `unknown fact kind "${key}"; known: ${KIND_NAMES.join(', ')}`;
  if (path.length === 4) return (factKinds[path[2] as FactKindName] as FactKind | undefined)?.refused?.[key];
  return undefined;
}

/**
 * Reads the fingerprint secret from `fingerprint_secret_file` (relative to the
 * configuration) or `fingerprint_secret_env`; an inline one was refused by the schema.
 * @throws ConfigError when both are set, it cannot be read, or it is too short.
 */
function readFingerprintSecret(yaml: YamlFile, baseDir: string, s: AgentSettings): Secret | undefined {
  const file = s.fingerprint_secret_file;
  const env = s.fingerprint_secret_env;
  if (file !== undefined && env !== undefined) throw yaml.error(['fingerprint_secret_env'], 'set fingerprint_secret_file or fingerprint_secret_env, not both');
  let secret: Secret | undefined;
  try {
    secret = readSecretRef(file, env, baseDir);
  } catch (err) {
    if (!(err instanceof SecretRefError)) throw err;
    throw yaml.error([`fingerprint_secret_${err.setting}`], err.message);
  }
  if (secret !== undefined && secret.reveal().length < MIN_SECRET_LENGTH) {
    throw yaml.error([file !== undefined ? 'fingerprint_secret_file' : 'fingerprint_secret_env'], `the secret must be at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`);
  }
  return secret;
}
