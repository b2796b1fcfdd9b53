/**
 * The Host header of a URL without a port: the host alone (RFC 9110 §7.2 lets a client
 * leave out the scheme's default port, and browsers, curl and Node's agents do), on a
 * kept-alive connection and on one opened for the request alone, which goes out without an
 * agent. A server that matches Host exactly sees the same header either way.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentsFor, exchange, urlTarget, type Endpoint } from '../../src/probes/http-exchange.js';
import { randomBase } from '../helpers/stack.js';

describe('the Host header of a URL on the default port', () => {
  const address = randomBase();
  const seen: (string | undefined)[] = [];
  let server: Server;

  beforeAll(async () => {
    // Port 80 of a loopback address of its own (the test suite runs as root: it installs packages).
    server = createServer((req, res) => {
      seen.push(req.headers.host);
      res.end('ok');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(80, address, resolve);
    });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('is the host alone, with or without an agent', async () => {
    const { secure, host, port, path } = urlTarget(`http://${address}/health`);
    expect(port).toBe(80);
    const agents = agentsFor(false, undefined);
    // Plain HTTP has no one-off agent: such a request connects by itself.
    expect(agents.oneOff).toBeUndefined();
    for (const agent of [agents.keepAlive, agents.oneOff]) {
      const endpoint: Endpoint = { secure, agent, oneOff: agents.oneOff, request: { host, port, path, method: 'GET' }, bodyLimit: 100 };
      const answer = await exchange(endpoint, AbortSignal.timeout(5000));
      expect((await answer.body()).toString()).toBe('ok');
      answer.drop();
    }
    agents.keepAlive.destroy();
    expect(seen).toEqual([address, address]);
  });
});
