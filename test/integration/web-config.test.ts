import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
const quiet = createLogger('error', 'logfmt', { write: () => true });

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
});
afterAll(() => sim.stop());

async function start(webConfig: string): Promise<RunningExporter> {
  const webConfigFile = join(dir, `web-${Math.random().toString(36).slice(2)}.yml`);
  await writeFile(webConfigFile, webConfig);
  exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', webConfigFile, enableLifecycle: true, logger: quiet });
  return exporter;
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
