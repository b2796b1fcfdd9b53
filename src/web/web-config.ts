import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { SecureVersion, TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { nonEmptyText, parseYamlFile, readConfigText, text, validate } from '../config/yaml-schema.js';
import { sendText, type Guard } from './shell.js';

/**
 * `--web.config.file`, in the Prometheus exporter-toolkit format:
 *
 *   tls_server_config:
 *     cert_file: server.crt
 *     key_file: server.key
 *     client_auth_type: RequireAndVerifyClientCert   # or NoClientCert (default), RequestClientCert,
 *                                                    #    RequireAnyClientCert, VerifyClientCertIfGiven
 *     client_ca_file: ca.crt
 *     min_version: TLS12                             # TLS10 .. TLS13 (default TLS12)
 *     max_version: TLS13
 *   basic_auth_users:
 *     prometheus: $2y$10$...                         # bcrypt hashes, e.g. from htpasswd -nBC 10
 *
 * Paths are relative to the file. The file is read once at start.
 */
export interface WebConfig {
  readonly tls?: {
    readonly cert: Buffer;
    readonly key: Buffer;
    readonly ca?: Buffer;
    readonly requestCert: boolean;
    readonly rejectUnauthorized: boolean;
    readonly minVersion: SecureVersion;
    readonly maxVersion?: SecureVersion;
  };
  /** Runs before every route: client certificate rules and basic auth. */
  readonly guard?: Guard;
}

const CLIENT_AUTH = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
type ClientAuth = (typeof CLIENT_AUTH)[number];
const VERSIONS: Record<string, SecureVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };

const BCRYPT = /^\$2[aby]\$\d\d\$.{53}$/;

const webConfigSchema = z.strictObject({
  tls_server_config: z
    .strictObject({
      cert_file: nonEmptyText(),
      key_file: nonEmptyText(),
      client_auth_type: z.enum(CLIENT_AUTH).optional(),
      client_ca_file: nonEmptyText().optional(),
      min_version: z.enum(Object.keys(VERSIONS) as [string, ...string[]]).optional(),
      max_version: z.enum(Object.keys(VERSIONS) as [string, ...string[]]).optional(),
    })
    .optional(),
  basic_auth_users: z
    .record(
      text(),
      // Never echo the value: a plain password pasted here must not reach the log.
      text().refine((v) => BCRYPT.test(v), { error: 'must be a bcrypt hash ($2y$...), e.g. from htpasswd -nBC 10 USER' }),
    )
    .optional(),
});

/**
 * Reads `--web.config.file`.
 * @throws ConfigError naming file, line, column and field (a missing file, a plain-text password, a client CA missing).
 */
export async function loadWebConfig(file: string): Promise<WebConfig> {
  const yaml = parseYamlFile(await readConfigText(file), file);
  if (yaml.value === undefined) return {};
  const settings = validate(yaml, webConfigSchema);
  const base = dirname(resolve(file));
  const users = settings.basic_auth_users ?? {};

  const read = async (field: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(resolve(base, path));
    } catch (err) {
      throw yaml.error(['tls_server_config', field], `cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };

  let tls: WebConfig['tls'];
  let clientAuth: ClientAuth = 'NoClientCert';
  const t = settings.tls_server_config;
  if (t) {
    const cert = (await read('cert_file', t.cert_file))!;
    const key = (await read('key_file', t.key_file))!;
    clientAuth = t.client_auth_type ?? 'NoClientCert';
    const ca = await read('client_ca_file', t.client_ca_file);
    if (clientAuth !== 'NoClientCert' && clientAuth !== 'RequestClientCert' && clientAuth !== 'RequireAnyClientCert' && !ca) {
      throw yaml.error(['tls_server_config', 'client_auth_type'], `${clientAuth} needs client_ca_file`);
    }
    tls = {
      cert,
      key,
      ca,
      requestCert: clientAuth !== 'NoClientCert',
      rejectUnauthorized: clientAuth === 'RequireAndVerifyClientCert',
      minVersion: t.min_version ? VERSIONS[t.min_version]! : 'TLSv1.2',
      maxVersion: t.max_version ? VERSIONS[t.max_version] : undefined,
    };
  }
  const checks: ((req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>)[] = [];
  if (clientAuth === 'RequireAnyClientCert' || clientAuth === 'VerifyClientCertIfGiven') {
    checks.push((req, res) => clientCertOk(req.socket as TLSSocket, clientAuth, res));
  }
  if (Object.keys(users).length > 0) checks.push(basicAuth(users));
  if (checks.length === 0) return { tls };
  return {
    tls,
    guard: (req, res, next) => {
      void (async () => {
        for (const check of checks) if (!(await check(req, res))) return;
        next();
      })().catch(next);
    },
  };
}

function clientCertOk(socket: TLSSocket, mode: ClientAuth, res: ServerResponse): boolean {
  const cert = socket.getPeerCertificate?.();
  const given = cert !== undefined && Object.keys(cert).length > 0;
  const ok = mode === 'RequireAnyClientCert' ? given : !given || socket.authorized;
  if (!ok) sendText(res, 403, 'A valid client certificate is required.\n');
  return ok;
}

/** Basic auth against bcrypt hashes; verified pairs are cached, since bcrypt is slow on purpose. */
function basicAuth(users: Record<string, string>): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const verified = new Map<string, boolean>();
  // Unknown users still cost one bcrypt comparison, so timing does not tell which users exist.
  const dummy = bcrypt.hashSync('appcluster-unknown-user', 10);
  return async (req, res) => {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    let ok = false;
    if (colon > 0) {
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const hash = Object.hasOwn(users, user) ? users[user]! : dummy;
      const cacheKey = createHash('sha256').update(`${user}\u0000${password}\u0000${hash}`).digest('hex');
      let match = verified.get(cacheKey);
      if (match === undefined) {
        match = (await bcrypt.compare(password, hash)) && hash !== dummy;
        if (verified.size > 1000) verified.clear();
        verified.set(cacheKey, match);
      }
      ok = match;
    }
    if (!ok) {
      sendText(res, 401, 'Unauthorized.\n', { 'WWW-Authenticate': 'Basic realm="appcluster-exporter"' });
    }
    return ok;
  };
}
