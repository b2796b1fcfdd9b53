import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAULTS, type Fault, type SimCluster } from './cluster.js';

/**
 * The simulator's control API (loopback only):
 *   GET    /servers                                   servers, components (with their shape) and faults
 *   POST   /faults  {"server","fault","component"?,"value"?}   switch a fault on ("server":"all": every server)
 *   DELETE /faults  {"server"?,"component"?,"fault"?}           clear (all when no server)
 * A fault that no selected component's shape takes (`key_drift` on etcd) answers 400 with
 * what each shape takes.
 */
export async function startControl(sim: SimCluster, host = '127.0.0.1', port = 0): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 64 * 1024) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        const send = (status: number, body: unknown): void => {
          res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
        };
        try {
          const url = new URL(req.url ?? '/', 'http://sim');
          const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>) : {};
          if (req.method === 'GET' && url.pathname === '/servers') return send(200, sim.describe());
          if (url.pathname !== '/faults') return send(404, { error: 'not found' });
          if (req.method === 'POST') {
            if (!body['server'] || !body['fault']) return send(400, { error: 'server and fault are required', faults: FAULTS });
            await sim.setFault(body['server'], body['fault'] as Fault, { component: body['component'], value: body['value'] });
            return send(200, { ok: true });
          }
          if (req.method === 'DELETE') {
            if (body['server']) {
              await sim.clearFault(body['server'], { component: body['component'], fault: body['fault'] as Fault | undefined });
            } else {
              await sim.clearAll();
            }
            return send(200, { ok: true });
          }
          return send(405, { error: 'method not allowed' });
        } catch (err) {
          return send(400, { error: err instanceof Error ? err.message : String(err) });
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return { url: `http://${addr.address}:${addr.port}`, server };
}
