import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { dirname, resolve } from 'node:path';
import { createSecureContext, type SecureVersion, type TlsOptions, type TLSSocket } from 'node:tls';
import { z } from 'zod';
import { oneAtATime } from '../config/one-at-a-time.js';
import { ConfigError } from '../config/errors.js';
import { nonEmptyText, parseYamlFile, readConfigText, text, validate, type YamlFile } from '../config/yaml-schema.js';
import type { Logger } from '../log.js';
import { PasswordChecker } from './passwords.js';
import { sendText, type Guard, type ServeTls } from './shell.js';

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
 * Paths are relative to the file. The certificate, key and client CA files are followed:
 * when they change on disk, the next connection's handshake uses the new ones (as
 * exporter-toolkit reads them at each handshake). The file itself is read again by
 * `WebSettings.reload` (the exporter's SIGHUP and POST /-/reload).
 */

/** The outcome of `WebSettings.reload`, shaped as the configuration's reload outcome. */
export type WebReloadResult = { readonly ok: true; readonly changed: boolean } | { readonly ok: false; readonly error: string };

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

/** The TLS files of web-config.yml, as absolute paths. */
interface TlsPaths {
  readonly cert: string;
  readonly key: string;
  readonly ca?: string;
}

/** A loaded web-config.yml. */
interface Loaded {
  /** SHA-256 of the file's text: an unchanged file is not parsed again. */
  readonly digest: string;
  readonly clientAuth: ClientAuth;
  readonly users: Readonly<Record<string, string>>;
  readonly tls?: {
    readonly paths: TlsPaths;
    /** The server's options, with the files' contents as read. */
    readonly options: TlsOptions;
    /** The files' identity (`stamp`) when they were read. */
    readonly stamp: string;
  };
}

const EMPTY: Loaded = { digest: '', clientAuth: 'NoClientCert', users: {} };

/**
 * What identifies the files' contents without reading them: inode, size, modification and
 * change times. Replacing a file (a rename into place, a Kubernetes Secret's symbolic
 * links swapped) or writing it changes one of them.
 */
function stampOf(paths: TlsPaths): string {
  return [paths.cert, paths.key, paths.ca]
    .map((path) => {
      if (path === undefined) return '-';
      try {
        const s = statSync(path, { bigint: true });
        return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? 'error';
      }
    })
    .join('/');
}

/** OpenSSL's reason ("key values mismatch"), which never quotes the key. */
function tlsReason(err: unknown): string {
  const e = err as { reason?: unknown; code?: unknown; message?: unknown };
  if (typeof e.reason === 'string') return e.reason;
  if (typeof e.code === 'string') return e.code;
  return 'error';
}

/**
 * Parses and checks web-config.yml's `text`: the files it names are read, and the
 * certificate and key must make a TLS context.
 * @param mustTls when set, whether `tls_server_config` must be there (a running server
 * cannot turn TLS on or off).
 * @throws ConfigError naming file, line, column and field.
 */
async function parseWebConfig(file: string, text: string, mustTls?: boolean): Promise<Loaded> {
  const digest = createHash('sha256').update(text).digest('hex');
  const yaml: YamlFile = parseYamlFile(text, file);
  const settings = yaml.value === undefined ? {} : validate(yaml, webConfigSchema);
  const base = dirname(resolve(file));
  const t = settings.tls_server_config;
  if (mustTls !== undefined && mustTls !== (t !== undefined)) {
    throw yaml.error(t ? ['tls_server_config'] : [], `${mustTls ? 'removing' : 'adding'} tls_server_config turns TLS ${mustTls ? 'off' : 'on'}, which needs a restart`, Boolean(t));
  }
  const clientAuth: ClientAuth = t?.client_auth_type ?? 'NoClientCert';
  const loaded = { digest, clientAuth, users: settings.basic_auth_users ?? {} };
  if (!t) return loaded;

  const paths: TlsPaths = {
    cert: resolve(base, t.cert_file),
    key: resolve(base, t.key_file),
    ...(t.client_ca_file !== undefined ? { ca: resolve(base, t.client_ca_file) } : {}),
  };
  if (clientAuth !== 'NoClientCert' && clientAuth !== 'RequestClientCert' && clientAuth !== 'RequireAnyClientCert' && !paths.ca) {
    throw yaml.error(['tls_server_config', 'client_auth_type'], `${clientAuth} needs client_ca_file`);
  }
  const stamp = stampOf(paths);
  const read = async (field: string, path: string | undefined): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path);
    } catch (err) {
      throw yaml.error(['tls_server_config', field], `cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  };
  const options: TlsOptions = {
    cert: await read('cert_file', paths.cert),
    key: await read('key_file', paths.key),
    ca: await read('client_ca_file', paths.ca),
    requestCert: clientAuth !== 'NoClientCert',
    rejectUnauthorized: clientAuth === 'RequireAndVerifyClientCert',
    minVersion: t.min_version ? VERSIONS[t.min_version]! : 'TLSv1.2',
    maxVersion: t.max_version ? VERSIONS[t.max_version] : undefined,
  };
  try {
    createSecureContext(options);
  } catch (err) {
    throw yaml.error(['tls_server_config', 'cert_file'], `the certificate and key cannot serve TLS: ${tlsReason(err)}`);
  }
  return { ...loaded, tls: { paths, options, stamp } };
}

/**
 * web-config.yml as the server uses it, kept current: `guard` checks each request against
 * the users and client certificate rules of the latest good load, the server of `tls`
 * serves the certificate files as they are at each new connection, and `reload` reads the
 * file again. Made by `loadWebConfig`.
 */
export class WebSettings {
  /** Runs before every route: client certificate rules and basic auth of the current settings. */
  readonly guard: Guard;
  /** How `serve` starts TLS, and follows the files; undefined for plain HTTP. */
  readonly tls: ServeTls | undefined;
  private loaded: Loaded;
  private readonly passwords: PasswordChecker;
  private server: HttpsServer | undefined;
  /** The stamp of the files the server serves, and of the last files it could not use. */
  private served = '';
  private refused = '';
  private good = true;

  /** @internal use `loadWebConfig` */
  constructor(
    private readonly file: string | undefined,
    loaded: Loaded,
    private readonly logger: Logger | undefined,
  ) {
    this.loaded = loaded;
    this.passwords = new PasswordChecker(loaded.users);
    this.guard = (req, res, next) => this.check(req, res, next);
    this.tls = loaded.tls
      ? {
          options: loaded.tls.options,
          follow: (server) => {
            this.server = server;
            this.served = this.loaded.tls?.stamp ?? '';
            // Before Node's own listener makes the TLS socket: the context set here is the
            // one its handshake uses. A client without SNI (an IP address) never reaches an
            // SNICallback, so that would not do.
            server.prependListener('connection', () => this.followFiles());
          },
        }
      : undefined;
  }

  /** False when the latest reload failed (the settings before it are still used). */
  get healthy(): boolean {
    return this.good;
  }

  /**
   * Reads the file again; a broken one keeps the running settings, logs why (file, line,
   * field) and answers `ok: false`. An unchanged file is not parsed again. A reload asked
   * for while one runs is run again after it, so that the file on disk at the last request
   * is the one that counts.
   */
  readonly reload: () => Promise<WebReloadResult> = oneAtATime(() => this.load());

  /** Ends the password checker's worker thread. */
  close(): Promise<void> {
    return this.passwords.close();
  }

  private async load(): Promise<WebReloadResult> {
    const file = this.file;
    if (file === undefined) return { ok: true, changed: false };
    let changed = false;
    try {
      const text = await readConfigText(file);
      if (createHash('sha256').update(text).digest('hex') !== this.loaded.digest) {
        this.apply(await parseWebConfig(file, text, this.tls !== undefined));
        changed = true;
      }
    } catch (err) {
      const error = err instanceof ConfigError ? err.message : `${file}: unexpected error while loading the web configuration`;
      this.good = false;
      this.logger?.error({ err: error }, 'web config reload failed; keeping the running web configuration');
      return { ok: false, error };
    }
    this.good = true;
    if (changed) this.logger?.info({ file, tls: this.tls !== undefined, users: Object.keys(this.loaded.users).length }, 'web config reloaded');
    return { ok: true, changed };
  }

  private apply(next: Loaded): void {
    if (this.server && next.tls) {
      this.server.setSecureContext(next.tls.options);
      // Node's TLS server reads these two for each new connection; setSecureContext takes
      // only the context's own options.
      Object.assign(this.server, { requestCert: next.tls.options.requestCert, rejectUnauthorized: next.tls.options.rejectUnauthorized });
      this.served = next.tls.stamp;
      this.refused = '';
    }
    this.loaded = next;
    this.passwords.setUsers(next.users);
  }

  /** At each new connection: when the TLS files changed, serve the new ones from this handshake on. */
  private followFiles(): void {
    const tls = this.loaded.tls;
    if (!tls || !this.server) return;
    const stamp = stampOf(tls.paths);
    if (stamp === this.served || stamp === this.refused) return;
    try {
      const options: TlsOptions = {
        ...tls.options,
        cert: readFileSync(tls.paths.cert),
        key: readFileSync(tls.paths.key),
        ca: tls.paths.ca === undefined ? undefined : readFileSync(tls.paths.ca),
      };
      this.server.setSecureContext(options);
      this.loaded = { ...this.loaded, tls: { ...tls, options, stamp } };
      this.served = stamp;
      this.logger?.info({ cert_file: tls.paths.cert }, 'TLS files changed on disk: serving them from this connection on');
    } catch (err) {
      // A certificate renewed before its key, say: the next change is tried again.
      this.refused = stamp;
      this.logger?.warn({ cert_file: tls.paths.cert, err: tlsReason(err) }, 'TLS files changed on disk but cannot serve (half written, or a key that does not match the certificate); serving the previous ones');
    }
  }

  private check(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    const { clientAuth } = this.loaded;
    if ((clientAuth === 'RequireAnyClientCert' || clientAuth === 'VerifyClientCertIfGiven') && !clientCertOk(req.socket as TLSSocket, clientAuth, res)) return;
    if (!this.passwords.enabled) {
      next();
      return;
    }
    this.basicAuth(req, res).then((ok) => {
      if (ok) next();
    }, next);
  }

  /** Basic auth against the users' bcrypt hashes (see PasswordChecker); answers 401 itself. */
  private async basicAuth(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const ok = colon > 0 && (await this.passwords.check(decoded.slice(0, colon), decoded.slice(colon + 1)));
    if (!ok) sendText(res, 401, 'Unauthorized.\n', { 'WWW-Authenticate': 'Basic realm="appcluster-exporter"' });
    return ok;
  }
}

/**
 * Reads `--web.config.file`; without a file, settings that serve plain HTTP to everyone.
 * `logger` is told of reloads and of TLS files that changed on disk.
 * @throws ConfigError naming file, line, column and field (a missing file, a plain-text
 * password, a client CA missing, a certificate and key that do not match).
 */
export async function loadWebConfig(file: string | undefined, opts: { readonly logger?: Logger } = {}): Promise<WebSettings> {
  if (file === undefined) return new WebSettings(undefined, EMPTY, opts.logger);
  return new WebSettings(file, await parseWebConfig(file, await readConfigText(file)), opts.logger);
}

function clientCertOk(socket: TLSSocket, mode: ClientAuth, res: ServerResponse): boolean {
  const cert = socket.getPeerCertificate?.();
  const given = cert !== undefined && Object.keys(cert).length > 0;
  const ok = mode === 'RequireAnyClientCert' ? given : !given || socket.authorized;
  if (!ok) sendText(res, 403, 'A valid client certificate is required.\n');
  return ok;
}
