import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MapReader } from './reader.js';

/**
 * Reads a secret named `name` from `NAME_file` (a path, relative to the config file) or
 * `NAME_env` (an environment variable). An inline `NAME` is rejected so secrets never sit
 * in a file that is shared, logged or committed. The value is returned, never logged.
 */
export function readSecret(r: MapReader, name: string, baseDir: string): string | undefined {
  if (r.has(name)) throw r.error(name, `inline secrets are not accepted; use ${name}_file or ${name}_env`);
  const file = r.string(`${name}_file`);
  const env = r.string(`${name}_env`);
  if (file !== undefined && env !== undefined) throw r.error(`${name}_env`, `set ${name}_file or ${name}_env, not both`);
  if (file !== undefined) {
    try {
      return readFileSync(resolve(baseDir, file), 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw r.error(`${name}_file`, `cannot read secret file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (env !== undefined) {
    const value = process.env[env];
    // The variable's name is not repeated: a secret pasted there by mistake must not reach the log.
    if (value === undefined) throw r.error(`${name}_env`, 'names an environment variable that is not set');
    return value;
  }
  return undefined;
}

/** Reads a file named by a field (a CA or certificate), relative to the config file. */
export function readFileField(r: MapReader, name: string, baseDir: string): Buffer | undefined {
  const file = r.string(name);
  if (file === undefined) return undefined;
  try {
    return readFileSync(resolve(baseDir, file));
  } catch (err) {
    throw r.error(name, `cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
