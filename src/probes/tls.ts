import type { ConnectionOptions } from 'node:tls';
import type { MapReader } from '../config/reader.js';
import { readFileField } from '../config/secrets.js';

/** TLS settings shared by the probes: `ca_file`, `cert_file`, `key_file`, `server_name`, `insecure_skip_verify`. */
export function parseTls(r: MapReader | undefined, baseDir: string): ConnectionOptions | undefined {
  if (!r) return undefined;
  const options: ConnectionOptions = {
    ca: readFileField(r, 'ca_file', baseDir),
    cert: readFileField(r, 'cert_file', baseDir),
    key: readFileField(r, 'key_file', baseDir),
    servername: r.string('server_name'),
    rejectUnauthorized: !(r.boolean('insecure_skip_verify') ?? false),
  };
  if (Boolean(options.cert) !== Boolean(options.key)) throw r.error(undefined, 'cert_file and key_file must be set together');
  r.finish();
  return options;
}
