import type { z } from 'zod';
import type { ConfigError } from '../../config/errors.js';
import type { Path } from '../../config/yaml-schema.js';

/**
 * Why a fact could not be read: a closed set, so a reason is safe in the document, in
 * logs and as a label value.
 *
 * - `not_found`: the file (or a directory on its path) does not exist.
 * - `permission_denied`: the agent's user may not read it.
 * - `not_a_file`: the path names a directory, a device or a pipe.
 * - `too_large`: the file is over `file_size_limit`, or a value over 128 characters.
 * - `malformed`: the file is not valid XML, JSON or YAML, or a pid file holds no pid.
 * - `missing`: the element, path, key, match or environment variable is not there, or empty.
 * - `not_text`: the path selects a list or a mapping, not one value.
 * - `refused`: a value holds characters no version or name holds (`=`, `;`, quotes, line
 *   breaks): it may be a secret or a connection string, and is not served.
 * - `stale_pid_file`: the pid file names a process that no longer runs (or runs another program).
 * - `unsupported`: the fact needs `/proc`, and this system has none (Windows).
 * - `timeout`: the fact was not read within `read_timeout` (a hung network file system).
 * - `error`: anything else (the detail names the error code).
 */
export const FACT_ERRORS = [
  'not_found',
  'permission_denied',
  'not_a_file',
  'too_large',
  'malformed',
  'missing',
  'not_text',
  'refused',
  'stale_pid_file',
  'unsupported',
  'timeout',
  'error',
] as const;
export type FactErrorReason = (typeof FACT_ERRORS)[number];

/**
 * Thrown by a fact reader when the fact cannot be read; the collector turns it into data.
 * `detail` is short, agent-written text: never a file's contents or a library's message,
 * which may quote them.
 */
export class FactError extends Error {
  override readonly name = 'FactError';

  constructor(
    readonly reason: FactErrorReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** What a fact reports when read: kind-specific fields (docs/agent.md). */
export type FactFields = Readonly<Record<string, string | number | boolean | null>>;

/** Reads a fact once. Rejects with FactError when it cannot; any other rejection is a bug kept as `error`. */
export type FactReader = () => Promise<FactFields>;

export interface FactContext {
  /** Directory that relative paths in the agent configuration resolve against. */
  readonly baseDir: string;
  /** Most bytes read from any one file. */
  readonly fileSizeLimit: number;
  /** The keyed hash of a secret (`keyHash` with the configured secret), or undefined without one. */
  readonly fingerprint: ((raw: string | Buffer) => string) | undefined;
}

/** A ConfigError at `path` within a fact's settings (`[]`: the settings themselves). */
export type Invalid = (path: Path, message: string) => ConfigError;

/**
 * A fact kind: its settings, declared once as a schema (validation and the published
 * `agent.schema.json`), and what makes the reader from them. Registered by name in
 * `registry.ts`.
 */
export interface FactKind<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  /** Fields the kind leaves out on purpose, with why: said instead of "unknown field". */
  readonly refused?: Readonly<Record<string, string>>;
  /**
   * Makes the reader from validated settings. What needs more than the settings (the
   * fingerprint secret, files named by them) is checked here and thrown as `invalid(...)`.
   */
  build(settings: z.output<S>, ctx: FactContext, invalid: Invalid): FactReader;
}
