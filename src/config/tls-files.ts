import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TlsSettings } from './schema.js';
import { Secret } from './secret.js';
import type { TlsOptions } from './types.js';

/**
 * Reads the files a `tls` block names (`ca_file`, `cert_file`, `key_file`, relative to
 * `baseDir`): the private key into a Secret.
 * @throws what `fail(field, message)` returns when a file cannot be read (`cannot read file: ENOENT`).
 */
export function readTlsFiles(t: TlsSettings, baseDir: string, fail: (field: string, message: string) => Error): TlsOptions {
  const read = (field: 'ca_file' | 'cert_file' | 'key_file'): Buffer | undefined => {
    const name = t[field];
    if (name === undefined) return undefined;
    try {
      return readFileSync(resolve(baseDir, name));
    } catch (err) {
      throw fail(field, `cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const ca = read('ca_file');
  const cert = read('cert_file');
  const key = read('key_file');
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key: new Secret(key) } : {}),
    ...(t.server_name ? { serverName: t.server_name } : {}),
    insecureSkipVerify: t.insecure_skip_verify ?? false,
  };
}
