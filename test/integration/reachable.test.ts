import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerStatus } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { tempDir, waitFor } from '../helpers/stack.js';

// A server that answers, but unhealthy, is reachable: its reason names the component, and
// "unreachable" is kept for servers from which no component got any answer at all.
describe('a server that answers unhealthy is not "unreachable"', () => {
  let node: Server;
  let exporter: RunningExporter;
  const headers: string[] = [];

  beforeAll(async () => {
    node = createServer((req, res) => {
      headers.push(String(req.headers['x-build']));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"health":"false"}');
    });
    await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
    const port = (node.address() as AddressInfo).port;
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(
      configFile,
      `clusters:
  - name: etcd
    heartbeat_interval: 1s
    probe_timeout: 900ms
    components:
      - name: health
        probe:
          http:
            url: "http://{address}:${port}/health"
            headers: { X-Build: 3.10 }
        status: { json: health, healthy: ["true"] }
    servers:
      - { name: m1, address: 127.0.0.1 }
      - { name: m2, address: 127.0.0.2 }
`,
    );
    exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => {} }) });
  });

  afterAll(async () => {
    await exporter?.close();
    node?.close();
  });

  async function servers(): Promise<ServerStatus[] | undefined> {
    const body = (await (await fetch(`${exporter.url}/api/v1/status`)).json()) as { data: { clusters: { servers: ServerStatus[] }[] } };
    const list = body.data.clusters[0]!.servers;
    return list.some((s) => s.state === 'pending') ? undefined : list;
  }

  it('names the failing component of a server that answered, and says unreachable only when nothing answered', async () => {
    const [m1, m2] = await waitFor('both servers judged', servers);
    expect(m1).toMatchObject({ state: 'offline', reason: 'health: status_not_ok' });
    // Nothing listens on 127.0.0.2: no answer at all.
    expect(m2).toMatchObject({ state: 'offline', reason: 'unreachable (health: connection_refused)' });
  });

  it('sends a header value as written in the file', () => {
    expect(headers.length).toBeGreaterThan(0);
    expect(new Set(headers)).toEqual(new Set(['3.10']));
  });
});
