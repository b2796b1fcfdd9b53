/**
 * Secrets never leave the exporter: a configuration that uses every secret path (basic
 * auth password file, bearer token from the environment, a raw key read from the
 * servers, the key hash secret) is run at debug level, in both log formats, through
 * probing, a failed and a good reload and an offline/online transition; no output,
 * metric, API answer or page carries any secret. The probes prove they sent them.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nthAddress, SimCluster } from '../../src/sim/cluster.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';
import { spawnExporter } from '../helpers/process.js';
import { ensureBuilt, fetchStatus, sample } from './util.js';

const hex = (n: number): string => randomBytes(n).toString('hex');
const PASSWORD = `pw-${hex(12)}`;
const TOKEN = `tok-${hex(12)}`;
const RAW_KEY = `rawkey-${hex(12)}`;
const KEY_SECRET = `hmac-${hex(12)}`;
const USER = 'monitor';
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
const TOKEN_ENV = 'APPCLUSTER_HARDENING_TOKEN';

/** Every form in which a secret could leak. */
const SECRETS: Record<string, string> = {
  password: PASSWORD,
  token: TOKEN,
  'raw key': RAW_KEY,
  'key hash secret': KEY_SECRET,
  'basic credentials (base64)': BASIC,
  'raw key (base64)': Buffer.from(RAW_KEY).toString('base64'),
};

const base = randomBase();
let sim: SimCluster;
let auth: Server;
let authUrl: string;
const seen = { basicOk: 0, basicBad: 0, bearerOk: 0, bearerBad: 0 };
let dir: string;

beforeAll(async () => {
  ensureBuilt();
  // Answers 401 unless the request carries the right credentials: `up` 1 proves them sent.
  auth = createServer((req, res) => {
    req.resume();
    const h = req.headers.authorization;
    let ok = false;
    if (req.url === '/basic') {
      ok = h === `Basic ${BASIC}`;
      seen[ok ? 'basicOk' : 'basicBad']++;
    } else if (req.url === '/bearer') {
      ok = h === `Bearer ${TOKEN}`;
      seen[ok ? 'bearerOk' : 'bearerBad']++;
    }
    if (ok) res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    else res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
  });
  await new Promise<void>((resolve) => auth.listen(0, base, resolve));
  authUrl = `http://${base}:${(auth.address() as AddressInfo).port}`;
  sim = new SimCluster({
    servers: 2,
    components: [{ name: 'svc', port: 8080 }],
    baseAddress: nthAddress(base, 1),
    key: RAW_KEY,
    exposeRawKey: true,
  });
  await sim.start();
  dir = await tempDir('secrets-');
  await writeFile(join(dir, 'pw'), `${PASSWORD}\n`);
  await writeFile(join(dir, 'key-secret'), `${KEY_SECRET}\n`);
});

afterAll(async () => {
  await sim?.stop();
  auth?.closeAllConnections();
  await new Promise((resolve) => auth?.close(resolve));
});

function configText(staleTimeout = '3s', basicAuth = 'password_file: pw'): string {
  return `global:
  heartbeat_interval: 1s
  probe_timeout: 500ms
  stale_timeout: ${staleTimeout}
  key_hash_secret_file: key-secret
clusters:
  - name: sec
    components:
      - name: svc
        probe:
          http:
            url: "http://{address}:8080/health"
        status: status
        version: version
        key: encryption_key
      - name: basic
        probe:
          http:
            url: "${authUrl}/basic"
            basic_auth: { username: ${USER}, ${basicAuth} }
        status: status
      - name: bearer
        probe:
          http:
            url: "${authUrl}/bearer"
            bearer_token_env: ${TOKEN_ENV}
        status: status
    servers:
${sim.servers.map((s) => `      - { name: ${s.name}, address: ${s.address} }\n`).join('')}`;
}

describe.each(['logfmt', 'json'] as const)('secrets with --log.level=debug --log.format=%s', (format) => {
  it('no output, metric, API answer or page carries a secret, and the probes sent them', async () => {
    const configFile = join(dir, `config-${format}.yml`);
    await writeFile(configFile, configText());
    const before = { ...seen };
    const exporter = await spawnExporter([`--config.file=${configFile}`, '--web.enable-lifecycle', '--log.level=debug', `--log.format=${format}`], {
      ...process.env,
      [TOKEN_ENV]: TOKEN,
    });
    const collected: Record<string, string> = {};
    try {
      const get = async (path: string): Promise<string> => {
        const res = await fetch(`${exporter.url}${path}`, { signal: AbortSignal.timeout(5_000) });
        const body = await res.text();
        collected[`#${Object.keys(collected).length} GET ${path}`] = body;
        return body;
      };
      // Every component up: the credentials were sent and right; the key was read.
      await waitFor('every server online', async () => {
        const c = (await fetchStatus(exporter.url)).clusters[0]!;
        return c.serversOnline === 2 ? true : undefined;
      });
      const metrics = await get('/metrics');
      for (const s of sim.servers) {
        for (const component of ['svc', 'basic', 'bearer']) {
          expect(sample(metrics, 'appcluster_component_up', { app_cluster: 'sec', server: s.name, component }), `${s.name}/${component}`).toBe(1);
        }
        expect(sample(metrics, 'appcluster_component_key_in_sync', { app_cluster: 'sec', server: s.name, component: 'svc' })).toBe(1);
      }
      expect(sample(metrics, 'appcluster_cluster_key_fingerprints', { app_cluster: 'sec' })).toBe(1);

      // Failed reloads: an inline secret, and a YAML error on the line holding a secret.
      for (const bad of [
        configText('3s', `password: "${PASSWORD}"`),
        configText('3s', `password_file: pw, x: "${PASSWORD}`),
        configText('3s', `password_file: pw }\n    ${PASSWORD}: [`),
      ]) {
        await writeFile(configFile, bad);
        const res = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
        collected[`#${Object.keys(collected).length} POST /-/reload (bad)`] = await res.text();
        expect(res.status).toBe(500);
      }
      // A good reload that changes the file.
      await writeFile(configFile, configText('4s'));
      const ok = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
      collected['POST /-/reload (good)'] = await ok.text();
      expect(ok.status).toBe(200);

      // Offline and back online.
      await sim.setFault('node-1', 'down');
      await waitFor('offline log line', () => (/server offline/.test(exporter.output()) ? true : undefined));
      await get('/');
      await get('/?fragment=clusters');
      await get('/api/v1/status');
      await sim.clearFault('node-1');
      await waitFor('back online log line', () => (/server back online/.test(exporter.output()) ? true : undefined));

      for (const path of ['/metrics', '/api/v1/status', '/', '/?fragment=clusters', '/-/ready', '/-/healthy']) await get(path);
    } finally {
      await exporter.stop();
    }
    collected['exporter stdout+stderr'] = exporter.output();
    console.log(`${format}: ${exporter.output().split('\n').length - 1} log lines; auth server saw`, seen);

    // The probes sent the right credentials and never wrong ones.
    expect(seen.basicOk - before.basicOk).toBeGreaterThan(0);
    expect(seen.bearerOk - before.bearerOk).toBeGreaterThan(0);
    expect(seen.basicBad - before.basicBad).toBe(0);
    expect(seen.bearerBad - before.bearerBad).toBe(0);
    // The log has what this test needs to be meaningful.
    const out = exporter.output();
    expect(out).toMatch(/config reload failed/);
    expect(out).toMatch(/config reloaded/);
    expect(out).toMatch(/server offline/);
    expect(out).toMatch(/server back online/);
    if (format === 'json') expect(out.split('\n')[0]).toMatch(/^\{/);

    const leaks: string[] = [];
    for (const [where, text] of Object.entries(collected)) {
      for (const [what, secret] of Object.entries(SECRETS)) if (text.includes(secret)) leaks.push(`${what} in ${where}`);
    }
    expect(leaks).toEqual([]);
  }, 45_000);
});
