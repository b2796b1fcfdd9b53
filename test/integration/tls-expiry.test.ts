import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComponentStatus, Snapshot } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { makeCerts, type Certs } from '../helpers/certs.js';
import { tempDir, waitFor } from '../helpers/stack.js';

const EXPIRY = 'appcluster_component_tls_cert_expiry_timestamp_seconds';

// Every TLS endpoint exports when the leaf certificate it served expires: HTTPS (also when
// the answer is an HTTP error: the handshake was accepted), TCP with TLS, and an endpoint
// that skips verification. A plain endpoint, and one whose certificate was refused, have none.
describe('the expiry of the certificate a TLS endpoint serves', () => {
  let certs: Certs;
  let stranger: Certs;
  let notAfter: number;
  const servers: Server[] = [];
  let exporter: RunningExporter;

  const listen = async (server: Server): Promise<number> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  };

  beforeAll(async () => {
    // makeCerts issues certificates valid for 2 days: one that expires in 2 days.
    certs = makeCerts(await tempDir('tls-expiry-'));
    stranger = makeCerts(await tempDir('tls-expiry-'));
    notAfter = Date.parse(new X509Certificate(readFileSync(certs.serverCert)).validTo) / 1000;
    const tls = { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) };
    const json = '{"status":"ok"}';
    const https = await listen(createHttpsServer(tls, (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(json)));
    const httpsError = await listen(createHttpsServer(tls, (_req, res) => res.writeHead(500).end()));
    const tcpTls = await listen(createTlsServer(tls, (socket) => socket.end()));
    const plain = await listen(createHttpServer((_req, res) => res.writeHead(200).end()) as HttpServer);
    const untrusted = await listen(
      createHttpsServer({ key: readFileSync(stranger.serverKey), cert: readFileSync(stranger.serverCert) }, (_req, res) => res.writeHead(200).end()),
    );
    const configFile = join(await tempDir('tls-expiry-'), 'config.yml');
    const ca = `{ ca_file: "${certs.ca}" }`;
    await writeFile(
      configFile,
      `clusters:
  - name: tls
    heartbeat_interval: 1s
    probe_timeout: 900ms
    components:
      - { name: admin, probe: { http: { url: "https://{address}:${https}/", tls: ${ca} } }, status: { json: status, healthy: [ok] } }
      - { name: console, probe: { http: { url: "https://{address}:${httpsError}/", tls: ${ca} } }, required: false }
      - { name: ftps, probe: { tcp: { port: ${tcpTls}, tls: ${ca} } } }
      - { name: unchecked, probe: { tcp: { port: ${tcpTls}, tls: { insecure_skip_verify: true } } }, required: false }
      - { name: web, probe: { http: { url: "http://{address}:${plain}/" } } }
      - { name: untrusted, probe: { http: { url: "https://{address}:${untrusted}/", tls: ${ca} } }, required: false }
    servers:
      - { name: node-1, address: 127.0.0.1 }
`,
    );
    exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => {} }) });
  });

  afterAll(async () => {
    await exporter?.close();
    for (const s of servers) s.close();
  });

  const components = async (): Promise<Record<string, ComponentStatus> | undefined> => {
    const body = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: Snapshot };
    const list = body.data.clusters[0]!.servers[0]!.components;
    return list.every((c) => c.up !== null) ? Object.fromEntries(list.map((c) => [c.name, c])) : undefined;
  };

  it('exports the leaf notAfter of HTTPS and TCP+TLS endpoints, and none for plain or refused connections', async () => {
    const c = await waitFor('every component probed', components);
    expect(notAfter - Date.now() / 1000).toBeGreaterThan(86_400);
    expect(notAfter - Date.now() / 1000).toBeLessThan(3 * 86_400);
    expect(c['admin']).toMatchObject({ up: true, tlsCertExpiry: notAfter });
    expect(c['console']).toMatchObject({ up: false, reason: 'http_status', tlsCertExpiry: notAfter });
    expect(c['ftps']).toMatchObject({ up: true, tlsCertExpiry: notAfter });
    expect(c['unchecked']).toMatchObject({ up: true, tlsCertExpiry: notAfter });
    expect(c['web']).toMatchObject({ up: true, tlsCertExpiry: null });
    expect(c['untrusted']).toMatchObject({ up: false, reason: 'tls', tlsCertExpiry: null });

    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith(`${EXPIRY}{`));
    const labels = (component: string) => `${EXPIRY}{app_cluster="tls",server="node-1",component="${component}"} ${notAfter}`;
    expect(series.sort()).toEqual(['admin', 'console', 'ftps', 'unchecked'].map(labels).sort());
  });
});
