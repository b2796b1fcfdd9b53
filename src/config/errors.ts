/**
 * Thrown when a configuration file cannot be read or is invalid. The message names the
 * file, line, column and YAML path: `config.yml:12:7: clusters[0].servers[1].role: ...`.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${file}:${line}:${column}: ${path ? `${path}: ` : ''}${reason}`);
  }
}

/** Most problems one ConfigErrors lists: past them, a count of the rest. */
const MAX_REPORTED = 50;

/**
 * Every problem of a file at once, so that a user fixes them in one round rather than one
 * per run: one line each, in the order given, the same one reported once. Its own file,
 * line, column, path and reason are the first problem's, so that code that reads one
 * ConfigError reads the first.
 */
export class ConfigErrors extends ConfigError {
  constructor(readonly errors: readonly ConfigError[]) {
    const first = errors[0]!;
    super(first.file, first.line, first.column, first.path, first.reason);
    const lines = [...new Set(errors.map((e) => e.message))];
    const shown = lines.slice(0, MAX_REPORTED);
    if (lines.length > shown.length) shown.push(`... and ${lines.length - shown.length} more problems`);
    this.message = shown.join('\n');
  }
}

/**
 * Collects the problems of a file as they are found. `attempt` runs a part of the file (a
 * cluster, a server, ...) and keeps its ConfigError rather than stopping, so the next part
 * is checked too; `done` throws them all (a ConfigErrors) if there was any.
 */
export class Problems {
  readonly list: ConfigError[] = [];

  add(err: ConfigError): void {
    this.list.push(...(err instanceof ConfigErrors ? err.errors : [err]));
  }

  /** The result of `part`, or undefined once its ConfigError is kept (or it was Broken). Other errors are thrown. */
  attempt<T>(part: () => T): T | undefined {
    try {
      return part();
    } catch (err) {
      if (err instanceof Broken) return undefined;
      if (!(err instanceof ConfigError)) throw err;
      this.add(err);
      return undefined;
    }
  }

  /** Throws the problems found so far, if any. */
  done(): void {
    if (this.list.length === 1) throw this.list[0]!;
    if (this.list.length > 1) throw new ConfigErrors(this.list);
  }
}

/**
 * Thrown by a part of the file that depends on a part whose problem is already reported (a
 * component reading an endpoint that was invalid): said once, at its cause.
 */
export class Broken extends Error {
  override readonly name = 'Broken';
}
