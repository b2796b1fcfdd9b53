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
