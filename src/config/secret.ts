import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * A secret read from a file or an environment variable (a password, a token, a private
 * key, the key-hash secret). It shows as `<secret>` wherever it is printed or serialised,
 * so a configuration can be logged or dumped without leaking it; `reveal()` is the one
 * way to the value, for the code that sends it.
 */
export class Secret<T extends string | Buffer = string> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toJSON(): string {
    return '<secret>';
  }

  toString(): string {
    return '<secret>';
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret(<secret>)';
  }
}

/**
 * Reads a secret from `file` (a path relative to `baseDir`; one trailing newline dropped)
 * or else from the environment variable `env`; undefined when neither is given.
 * @throws SecretRefError naming which of the two failed and why: a file that cannot be read
 * (named as given and where it was looked for), or a variable that is not set (named only
 * when it looks like a variable's name: a value of another shape may be a secret pasted
 * there by mistake, and is not repeated into the log).
 */
export function readSecretRef(file: string | undefined, env: string | undefined, baseDir: string): Secret | undefined {
  if (file !== undefined) {
    try {
      return new Secret(readFileSync(resolve(baseDir, file), 'utf8').replace(/\r?\n$/, ''));
    } catch (err) {
      const where = resolve(baseDir, file);
      throw new SecretRefError('file', `cannot read secret file "${file}"${where === file ? '' : ` (${where})`}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (env === undefined) return undefined;
  const value = process.env[env];
  if (value !== undefined) return new Secret(value);
  throw new SecretRefError(
    'env',
    /^[A-Z_][A-Z0-9_]{0,127}$/.test(env)
      ? `names an environment variable that is not set: ${env}`
      : 'names an environment variable that is not set (its name is not repeated: it does not look like one, and may be a secret pasted there)',
  );
}

/** Why `readSecretRef` could not read a secret, and from which of its two settings. */
export class SecretRefError extends Error {
  constructor(
    readonly setting: 'file' | 'env',
    message: string,
  ) {
    super(message);
  }
}
