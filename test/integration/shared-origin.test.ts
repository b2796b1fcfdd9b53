import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { tempDir, waitFor } from '../helpers/stack.js';

// Some products report every server's status through one management console: the URL's
// origin is the same for all servers and only the path names the server. Each answer takes
// 600 ms against a 900 ms timeout, and 8 servers are probed every second, so their probes
// overlap: they must run side by side, not queue on one connection.
describe('servers probed through one shared origin', () => {
  let console_: Server;
  let exporter: RunningExporter;
  let maxConcurrent = 0;

  beforeAll(async () => {
    let concurrent = 0;
    console_ = createServer((req, res) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      setTimeout(() => {
        concurrent--;
        const name = /\/servers\/([^/]+)\/status/.exec(req.url ?? '')?.[1];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', name }));
      }, 600);
    });
    await new Promise<void>((resolve) => console_.listen(0, '127.0.0.1', resolve));
    const port = (console_.address() as { port: number }).port;
    const servers = Array.from({ length: 8 }, (_, i) => `      - { name: s${i + 1}, address: 127.0.0.1 }`).join('\n');
    const configFile = join(await tempDir(), 'config.yml');
    await writeFile(
      configFile,
      `clusters:
  - name: console
    heartbeat_interval: 1s
    probe_timeout: 900ms
    components:
      - name: service
        probe: { http: { url: "http://127.0.0.1:${port}/servers/{name}/status" } }
        status: status
    servers:
${servers}
`,
    );
    exporter = await startExporter({ configFile, listenAddress: '127.0.0.1:0', logger: createLogger('error', 'logfmt', { write: () => true }) });
  });
  afterAll(async () => {
    await exporter?.close();
    console_?.close();
  });

  it('probes them side by side, so none times out', async () => {
    await waitFor('three rounds of probes', async () => {
      const text = await (await fetch(`${exporter.url}/metrics`)).text();
      return Number(/^appcluster_exporter_probes_total\{result="success"\} (\d+)/m.exec(text)?.[1] ?? 0) >= 24 ? text : undefined;
    });
    const text = await (await fetch(`${exporter.url}/metrics`)).text();
    expect(text).not.toMatch(/appcluster_exporter_probes_total\{result="failure"\} [1-9]/);
    expect(text.match(/^appcluster_server_online\{[^}]*\} 1$/gm)).toHaveLength(8);
    expect(maxConcurrent).toBeGreaterThan(1);
  });
});
