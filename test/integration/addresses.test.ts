import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerStatus } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { tempDir, waitFor } from '../helpers/stack.js';

async function listen<T extends HttpServer | TcpServer>(server: T, host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

const ipv6 = await (async () => {
  const probe = createTcpServer();
  const port = await listen(probe, '::1');
  probe.close();
  return port !== undefined;
})();
if (!ipv6) console.warn('addresses.test.ts: this machine has no IPv6 loopback (::1); the IPv6 address tests are skipped');

// Every address form a configuration may hold, in both probe kinds, through the real
// exporter: the server answers only on the address family the form names.
describe.skipIf(!ipv6)('server addresses: IPv4, IPv6 with and without brackets, host names', () => {
  const http: HttpServer[] = [];
  const tcp: TcpServer[] = [];
  let exporter: RunningExporter;
  const forms = [
    // name, address as configured, the URL template's host part, the listening host
    ['v6-bare', '::1', '{address}', '::1'],
    ['v6-brackets', '[::1]', '{address}', '::1'],
    ['v6-bare-in-brackets', '::1', '[{address}]', '::1'],
    ['v6-brackets-in-brackets', '[::1]', '[{address}]', '::1'],
    ['v4', '127.0.0.1', '{address}', '127.0.0.1'],
    ['v4-in-brackets', '127.0.0.1', '[{address}]', '127.0.0.1'],
    ['host-name', 'localhost', '{address}', '127.0.0.1'],
  ] as const;

  beforeAll(async () => {
    const ports: Record<string, { http: number; tcp: number }> = {};
    for (const host of ['::1', '127.0.0.1']) {
      const h = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
      const t = createTcpServer((socket) => socket.end());
      http.push(h);
      tcp.push(t);
      ports[host] = { http: (await listen(h, host))!, tcp: (await listen(t, host))! };
    }
    // One cluster per form: the http port is the form's listener's, as a label.
    const clusters = forms
      .map(
        ([name, address, host, listenOn]) => `  - name: ${name}
    heartbeat_interval: 1s
    probe_timeout: 900ms
    components:
      - { name: web, probe: { http: { url: "http://${host}:{labels.port}/status" } }, status: status }
      - { name: peer, probe: { tcp: { port: ${ports[listenOn]!.tcp} } } }
    servers:
      - { name: s, address: "${address}", labels: { port: "${ports[listenOn]!.http}" } }`,
      )
      .join('\n');
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(configFile, `clusters:\n${clusters}\n`);
    exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => {} }) });
  });

  afterAll(async () => {
    await exporter?.close();
    for (const s of [...http, ...tcp]) s.close();
  });

  it.each(forms)('%s (address %s, URL host %s): both probes succeed', async (cluster, address) => {
    const server = await waitFor(`${cluster} judged`, async () => {
      const body = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: { name: string; servers: ServerStatus[] }[] } };
      const s = body.data.clusters.find((c) => c.name === cluster)!.servers[0]!;
      return s.state === 'pending' ? undefined : s;
    });
    expect(server.components.map((c) => [c.name, c.state, c.reason, c.detail])).toEqual([
      ['web', 'up', null, null],
      ['peer', 'up', null, null],
    ]);
    expect(server.state).toBe('online');
    // Labels show the address as configured.
    expect(server.address).toBe(address);
    const metrics = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(metrics).toContain(`appcluster_server_info{app_cluster="${cluster}",server="s",address="${address}",`);
  });
});
