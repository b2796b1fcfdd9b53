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

/** Why a secret file cannot be read, naming the file as given and where it was looked for. */
export function secretFileProblem(file: string, baseDir: string, err: unknown): string {
  const where = resolve(baseDir, file);
  return `cannot read secret file "${file}"${where === file ? '' : ` (${where})`}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
}

/**
 * The problem of an unset environment variable, naming it when it looks like a variable's
 * name (capitals, digits and `_`, as POSIX names the environment's); a value of another
 * shape may be a secret pasted there by mistake, and is not repeated into the log.
 */
export function unsetVariable(env: string): string {
  return /^[A-Z_][A-Z0-9_]{0,127}$/.test(env)
    ? `names an environment variable that is not set: ${env}`
    : 'names an environment variable that is not set (its name is not repeated: it does not look like one, and may be a secret pasted there)';
}
