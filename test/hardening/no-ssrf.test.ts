/**
 * No endpoint probes an address that a request names: the exporter only ever connects to
 * what its configuration file lists. A canary server on another loopback address records
 * every connection while each endpoint is asked, in every way we can think of, to go there.
 */
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { nthAddress, SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';
import { sleep } from './util.js';

const base = randomBase();
const CANARY_HOST = nthAddress(base, 7);
let canary: Server;
let canaryPort: number;
const canaryHits: string[] = [];
const canarySockets = new Set<Socket>();
let sim: SimCluster;
let exporter: RunningExporter;
const logLines: string[] = [];

beforeAll(async () => {
  canary = createServer((socket) => {
    canarySockets.add(socket);
    socket.on('close', () => canarySockets.delete(socket));
    socket.on('error', () => {});
    canaryHits.push(`${socket.remoteAddress}:${socket.remotePort}`);
    socket.destroy();
  });
  await new Promise<void>((resolve) => canary.listen(0, CANARY_HOST, resolve));
  canaryPort = (canary.address() as AddressInfo).port;

  sim = new SimCluster({ servers: 1, components: [{ name: 'web', port: 8080 }], baseAddress: base });
  await sim.start();
  const dir = await tempDir('ssrf-');
  const configFile = join(dir, 'config.yml');
  await writeFile(configFile, simExporterConfig(sim, { heartbeatInterval: '1s', probeTimeout: '500ms' }));
  exporter = await startExporter({
    enableLifecycle: true,
    configFile,
    listenAddress: '127.0.0.1:0',
    logger: createLogger('debug', 'logfmt', { write: (s: string) => logLines.push(s) }),
  });
  await waitFor('ready', async () => ((await fetch(`${exporter.url}/-/ready`)).status === 200 ? true : undefined));
});

afterAll(async () => {
  await exporter?.close();
  await sim?.stop();
  for (const s of canarySockets) s.destroy();
  await new Promise((resolve) => canary?.close(resolve));
});

/** A raw request, so the Host header and odd paths go out as written. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<number> {
  const { hostname, port } = new URL(exporter.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, method, path, headers, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('no server-side request forgery', () => {
  it('no endpoint connects to an address a request names, and /probe does not exist', async () => {
    const target = `${CANARY_HOST}:${canaryPort}`;
    const urls = [`http://${target}/`, `http://${target}/health`, `https://${target}/`, target, `//${target}/`];
    const params = ['target', 'url', 'address', 'host', 'module', 'server', 'config.file', 'web.config.file', 'probe'];
    const paths = ['/metrics', '/probe', '/api/v1/status', '/', '/-/ready', '/-/healthy', '/static/app.js', '/api/v1/probe', '/scrape'];
    const statuses: Record<string, number> = {};
    let requests = 0;
    for (const path of paths) {
      for (const u of urls) {
        const query = params.map((p) => `${p}=${encodeURIComponent(u)}`).join('&');
        statuses[`GET ${path}?…`] = await raw('GET', `${path}?${query}&fragment=clusters`, {});
        requests++;
      }
    }
    // Paths and headers naming the canary.
    for (const path of [`/http://${target}/`, `/${encodeURIComponent(`http://${target}/`)}`, `http://${target}/metrics`, `/metrics/../probe?target=${target}`]) {
      statuses[`GET ${path}`] = await raw('GET', path, {});
      requests++;
    }
    for (const headers of <Record<string, string>[]>[
      { host: target },
      { 'x-forwarded-host': target, 'x-forwarded-for': CANARY_HOST, forwarded: `for=${CANARY_HOST};host=${target}` },
      { 'x-prometheus-scrape-target': `http://${target}/`, referer: `http://${target}/` },
    ]) {
      for (const path of ['/metrics', '/', '/api/v1/status', '/probe']) {
        await raw('GET', `${path}?target=${encodeURIComponent(`http://${target}/`)}`, headers);
        requests++;
      }
    }
    // Reloads whose body, query and headers name the canary.
    const reloadBodies: Array<[string, string]> = [
      ['application/json', JSON.stringify({ target: `http://${target}/`, config: { clusters: [{ servers: [{ address: CANARY_HOST }] }] } })],
      ['application/x-www-form-urlencoded', `target=${encodeURIComponent(`http://${target}/`)}&config.file=${encodeURIComponent(`http://${target}/c.yml`)}`],
      ['application/yaml', `clusters:\n  - name: evil\n    components:\n      - name: x\n        probe: { tcp: { port: ${canaryPort} } }\n    servers:\n      - { name: c, address: ${CANARY_HOST} }\n`],
      ['text/plain', `http://${target}/`],
    ];
    for (const [type, body] of reloadBodies) {
      const status = await raw('POST', `/-/reload?target=${encodeURIComponent(`http://${target}/`)}&config.file=${encodeURIComponent(`http://${target}/`)}`, {
        'content-type': type,
        'content-length': String(Buffer.byteLength(body)),
        host: target,
      }, body);
      statuses[`POST /-/reload (${type})`] = status;
      requests++;
    }
    // Give any forged probe a few heartbeats to happen.
    await sleep(3_000);
    console.log(`${requests} requests naming ${target}; canary connections: ${canaryHits.length}`);
    expect(canaryHits).toEqual([]);

    // /probe (the multi-target exporter pattern) is not an endpoint here.
    expect((await fetch(`${exporter.url}/probe?target=${encodeURIComponent(`http://${target}/`)}`)).status).toBe(404);
    expect(statuses['GET /probe?…']).toBe(404);
    // The reloads reloaded the configured file (unchanged), not anything named in the request.
    for (const [type] of reloadBodies) expect(statuses[`POST /-/reload (${type})`], type).toBe(200);
    // The running configuration still lists only the simulated server.
    const status = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: { servers: { address: string }[] }[] } };
    expect(status.data.clusters.flatMap((c) => c.servers.map((s) => s.address))).toEqual([sim.servers[0]!.address]);
    expect(logLines.join('')).not.toContain(CANARY_HOST);

    // Control: the canary does record a connection, so the zero above means something.
    connect(canaryPort, CANARY_HOST).on('error', () => {}).end();
    await waitFor('canary records a direct connection', () => (canaryHits.length === 1 ? true : undefined), 3_000);
  }, 30_000);
});
