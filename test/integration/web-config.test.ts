import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import bcrypt from 'bcryptjs';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { makeCerts, type Certs } from '../helpers/certs.js';
import { randomBase, tempDir } from '../helpers/stack.js';

const PASSWORD = 'correct horse battery staple';
const ENDPOINTS: [string, string][] = [
  ['GET', '/metrics'],
  ['GET', '/'],
  ['GET', '/api/v1/status'],
  ['GET', '/-/healthy'],
  ['GET', '/-/ready'],
  ['POST', '/-/reload'],
  ['GET', '/static/status.js'],
];

let dir: string;
let certs: Certs;
let sim: SimCluster;
let configFile: string;
let exporter: RunningExporter | undefined;
/** What the exporter of the current test logged (warnings and errors). */
let logged: string[] = [];
const logger = createLogger('warn', 'logfmt', { write: (line: string) => logged.push(line) });

beforeAll(async () => {
  dir = await tempDir();
  certs = makeCerts(dir);
  sim = new SimCluster({ servers: 1, components: [{ name: 'web', port: 8080 }], baseAddress: randomBase() });
  await sim.start();
  configFile = join(dir, 'config.yml');
  await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '1s', probeTimeout: '500ms' }));
});
afterEach(async () => {
  await exporter?.close();
  exporter = undefined;
  logged = [];
});
afterAll(() => sim.stop());

let webConfigFile: string;

async function start(webConfig: string, opts: { enableLifecycle?: boolean } = {}): Promise<RunningExporter> {
  webConfigFile = join(dir, `web-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(webConfigFile, webConfig);
  exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', webConfigFile, enableLifecycle: opts.enableLifecycle ?? true, logger });
  return exporter;
}

/** Writes `text` to `path` as certbot and Kubernetes do: a new file renamed into place. */
async function replace(path: string, text: string | Buffer): Promise<void> {
  await writeFile(`${path}.new`, text);
  await rename(`${path}.new`, path);
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `url` is served (no SNI: an IP address). */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprintOf = (certFile: string): string => new X509Certificate(readFileSync(certFile)).fingerprint256;

async function reloadGauge(url: string, authorization?: string): Promise<string | undefined> {
  const text = await (await fetch(`${url}/metrics`, authorization ? { headers: { authorization } } : {})).text();
  return /^appcluster_exporter_config_last_reload_successful (\S+)$/m.exec(text)?.[1];
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('--web.config.file', () => {
  it('basic auth guards every endpoint; a wrong or missing password is refused', async () => {
    const hash = bcrypt.hashSync(PASSWORD, 10);
    const e = await start(`basic_auth_users:\n  prometheus: ${hash}\n`);
    for (const [method, path] of ENDPOINTS) {
      const none = await fetch(`${e.url}${path}`, { method });
      expect(none.status, `${method} ${path} without credentials`).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
      const wrong = await fetch(`${e.url}${path}`, { method, headers: { authorization: basic('prometheus', 'nope') } });
      expect(wrong.status, `${method} ${path} with a wrong password`).toBe(401);
      const unknown = await fetch(`${e.url}${path}`, { method, headers: { authorization: basic('mallory', PASSWORD) } });
      expect(unknown.status, `${method} ${path} for an unknown user`).toBe(401);
      const right = await fetch(`${e.url}${path}`, { method, headers: { authorization: basic('prometheus', PASSWORD) } });
      expect([200, 503], `${method} ${path} with the password`).toContain(right.status);
    }
    const page = await (await fetch(`${e.url}/metrics`, { headers: { authorization: basic('prometheus', PASSWORD) } })).text();
    expect(page).not.toContain(hash);
  });

  it('serves TLS with a minimum version and refuses plain HTTP and older TLS', async () => {
    const e = await start(`tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  min_version: TLS13\n`);
    expect(e.url).toMatch(/^https:/);
    const ca = readFileSync(certs.ca);
    const ok = await undiciFetch(`${e.url}/-/healthy`, { dispatcher: new Agent({ connect: { ca } }) });
    expect(ok.status).toBe(200);
    await expect(fetch(`${e.url.replace('https', 'http')}/-/healthy`)).rejects.toThrow();
    const old = new Agent({ connect: { ca, maxVersion: 'TLSv1.2' } });
    await expect(undiciFetch(`${e.url}/-/healthy`, { dispatcher: old })).rejects.toThrow();
    const untrusted = new Agent({ connect: {} });
    await expect(undiciFetch(`${e.url}/-/healthy`, { dispatcher: untrusted })).rejects.toThrow();
  });

  it('requires a client certificate signed by the client CA when told to', async () => {
    const e = await start(
      `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${certs.ca}\n`,
    );
    const ca = readFileSync(certs.ca);
    await expect(undiciFetch(`${e.url}/metrics`, { dispatcher: new Agent({ connect: { ca } }) })).rejects.toThrow();
    const withCert = new Agent({ connect: { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } });
    expect((await undiciFetch(`${e.url}/metrics`, { dispatcher: withCert })).status).toBe(200);
    // A certificate from another CA is refused too.
    const other = makeCerts(await tempDir());
    const foreign = new Agent({ connect: { ca, cert: readFileSync(other.clientCert), key: readFileSync(other.clientKey) } });
    await expect(undiciFetch(`${e.url}/metrics`, { dispatcher: foreign })).rejects.toThrow();
  });

  it.each([
    ['an unknown key', 'basic_auth_user:\n  a: b\n', /:1:1: basic_auth_user: unknown field "basic_auth_user"/],
    ['a plain-text password', 'basic_auth_users:\n  prometheus: hunter2\n', /:2:15: basic_auth_users\.prometheus: must be a bcrypt hash/],
    ['a missing certificate', 'tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n', /:2:14: tls_server_config\.cert_file: cannot read file: ENOENT/],
    ['a bad TLS version', `tls_server_config:\n  cert_file: CERT\n  key_file: KEY\n  min_version: SSL3\n`, /tls_server_config\.min_version: must be one of TLS10, TLS11, TLS12, TLS13/],
  ])('rejects %s with file, line and field', async (_name, text, message) => {
    const err = await start(text.replace('CERT', certs.serverCert).replace('KEY', certs.serverKey)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toContain('hunter2');
  });
});

describe('--web.config.file follows its files', () => {
  it('serves a replaced certificate and key from the next connection on, without a reload', async () => {
    // Copies: the files this test replaces are its own.
    const tlsDir = await tempDir();
    const cert = join(tlsDir, 'tls.crt');
    const key = join(tlsDir, 'tls.key');
    await copyFile(certs.serverCert, cert);
    await copyFile(certs.serverKey, key);
    const e = await start(`tls_server_config:\n  cert_file: ${cert}\n  key_file: ${key}\n`, { enableLifecycle: false });
    expect(await servedFingerprint(e.url)).toBe(fingerprintOf(certs.serverCert));

    const renewed = makeCerts(await tempDir());
    expect(fingerprintOf(renewed.serverCert)).not.toBe(fingerprintOf(certs.serverCert));
    // The certificate first: with the old key it cannot serve, so the old pair goes on.
    await replace(cert, readFileSync(renewed.serverCert));
    expect(await servedFingerprint(e.url)).toBe(fingerprintOf(certs.serverCert));
    expect(logged.join('')).toMatch(/level=warn msg="TLS files changed on disk but cannot serve .*serving the previous ones" cert_file=\S+tls\.crt err=/);
    // Then the key: the new pair from the next connection on.
    await replace(key, readFileSync(renewed.serverKey));
    expect(await servedFingerprint(e.url)).toBe(fingerprintOf(renewed.serverCert));
    const ca = new Agent({ connect: { ca: readFileSync(renewed.ca) } });
    expect((await undiciFetch(`${e.url}/-/healthy`, { dispatcher: ca })).status).toBe(200);
    // No key material in the log.
    expect(logged.join('')).not.toContain('PRIVATE KEY');
  });

  it('reloads its users on reload (POST /-/reload): the new password works, the old one does not', async () => {
    const e = await start(`basic_auth_users:\n  prometheus: ${bcrypt.hashSync('old password', 4)}\n`);
    const old = basic('prometheus', 'old password');
    expect((await fetch(`${e.url}/-/healthy`, { headers: { authorization: old } })).status).toBe(200);
    await writeFile(webConfigFile, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('new password', 4)}\n  grafana: ${bcrypt.hashSync('other', 4)}\n`);
    const reloaded = await fetch(`${e.url}/-/reload`, { method: 'POST', headers: { authorization: old } });
    expect([reloaded.status, await reloaded.text()]).toEqual([200, 'Reloaded.\n']);
    const fresh = basic('prometheus', 'new password');
    expect((await fetch(`${e.url}/-/healthy`, { headers: { authorization: fresh } })).status).toBe(200);
    expect((await fetch(`${e.url}/-/healthy`, { headers: { authorization: basic('grafana', 'other') } })).status).toBe(200);
    expect((await fetch(`${e.url}/-/healthy`, { headers: { authorization: old } })).status).toBe(401);
    // The same bytes again: nothing to do.
    const again = await fetch(`${e.url}/-/reload`, { method: 'POST', headers: { authorization: fresh } });
    expect([again.status, await again.text()]).toEqual([200, 'Unchanged.\n']);
  });

  it('keeps the running users when the file turns bad, and reports it as a bad configuration is reported', async () => {
    const e = await start(`basic_auth_users:\n  prometheus: ${bcrypt.hashSync(PASSWORD, 4)}\n`);
    const auth = basic('prometheus', PASSWORD);
    expect(await reloadGauge(e.url, auth)).toBe('1');
    await writeFile(webConfigFile, 'basic_auth_users:\n  prometheus: hunter2\n');
    const failed = await fetch(`${e.url}/-/reload`, { method: 'POST', headers: { authorization: auth } });
    const body = await failed.text();
    expect(failed.status).toBe(500);
    expect(body).toContain(`Reload failed; the running configuration is kept.\n${webConfigFile}:2:15: basic_auth_users.prometheus: must be a bcrypt hash`);
    expect(body).not.toContain('hunter2');
    expect(await reloadGauge(e.url, auth)).toBe('0');
    const log = logged.join('');
    expect(log).toContain('level=error msg="web config reload failed; keeping the running web configuration"');
    expect(log).toContain(`${webConfigFile}:2:15: basic_auth_users.prometheus`);
    expect(log).not.toContain('hunter2');
    // SIGHUP's way (reload()) reports the same.
    expect(await e.reload()).toMatchObject({ ok: false, error: expect.stringContaining(`${webConfigFile}:2:15:`) as unknown });
    expect((await fetch(`${e.url}/-/healthy`, { headers: { authorization: auth } })).status).toBe(200);
    // Mended: the reload succeeds and the gauge says so.
    await writeFile(webConfigFile, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('mended', 4)}\n`);
    expect(await e.reload()).toEqual({ ok: true, changed: true });
    expect(await reloadGauge(e.url, basic('prometheus', 'mended'))).toBe('1');
  });

  it('cannot turn TLS off by a reload: it keeps serving TLS and says a restart is needed', async () => {
    const e = await start(`tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n`);
    await writeFile(webConfigFile, 'basic_auth_users: {}\n');
    const result = await e.reload();
    expect(result).toEqual({ ok: false, error: `${webConfigFile}:1:1: removing tls_server_config turns TLS off, which needs a restart` });
    expect(await servedFingerprint(e.url)).toBe(fingerprintOf(certs.serverCert));
  });

  it('applies a new client_auth_type on reload to the next connections', async () => {
    const e = await start(`tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n`);
    const ca = readFileSync(certs.ca);
    const fetchWith = (connect: object) => undiciFetch(`${e.url}/-/healthy`, { dispatcher: new Agent({ connect: { ca, ...connect } }) });
    expect((await fetchWith({})).status).toBe(200);
    await writeFile(
      webConfigFile,
      `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${certs.ca}\n`,
    );
    expect(await e.reload()).toEqual({ ok: true, changed: true });
    await expect(fetchWith({})).rejects.toThrow();
    expect((await fetchWith({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) })).status).toBe(200);
  });
});

describe('--web.enable-lifecycle', () => {
  it('without it, POST /-/reload is refused as Prometheus refuses it; a reload by signal still works', async () => {
    const e = await start(`basic_auth_users:\n  prometheus: ${bcrypt.hashSync(PASSWORD, 4)}\n`, { enableLifecycle: false });
    const auth = basic('prometheus', PASSWORD);
    const refused = await fetch(`${e.url}/-/reload`, { method: 'POST', headers: { authorization: auth } });
    expect([refused.status, await refused.text()]).toEqual([403, 'Lifecycle API is not enabled.\n']);
    // Still behind the guard: no answer of any kind to a stranger.
    expect((await fetch(`${e.url}/-/reload`, { method: 'POST' })).status).toBe(401);
    await writeFile(webConfigFile, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('rotated', 4)}\n`);
    expect(await e.reload()).toEqual({ ok: true, changed: true });
    expect((await fetch(`${e.url}/-/healthy`, { headers: { authorization: basic('prometheus', 'rotated') } })).status).toBe(200);
  });
});
