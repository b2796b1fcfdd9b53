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
