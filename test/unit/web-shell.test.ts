import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { WEB_MAX_CONNECTIONS } from '../../src/probes/fd-budget.js';
import { acceptsGzip } from '../../src/web/app.js';
import { createWebApp, parseListenAddress, searchParams, sendText, serve, type Guard, type Served } from '../../src/web/shell.js';
import { makeCerts } from '../helpers/certs.js';
import { tempDir } from '../helpers/stack.js';

function app(opts: { guard?: Guard; describe?: (err: unknown) => string } = {}) {
  const logged: string[] = [];
  const logger = createLogger('error', 'logfmt', { write: (s: string) => logged.push(s) });
  const web = createWebApp(
    [
      { method: 'GET', path: '/text', handle: (req, res) => sendText(res, 200, `q=${searchParams(req).get('q') ?? ''} gzip=${acceptsGzip(req)}\n`) },
      { method: 'POST', path: '/text', handle: (_req, res) => sendText(res, 200, 'posted\n') },
      { method: 'POST', path: '/only-post', handle: (_req, res) => sendText(res, 200, 'ok\n') },
      {
        method: 'GET',
        path: '/throws',
        handle: async () => {
          await Promise.resolve();
          throw new Error('the disk is gone');
        },
      },
    ],
    { logger, ...opts },
  );
  return { web, logged };
}

describe('the serving shell of the exporter and the agent', () => {
  it('routes by exact path and method, with the query parsed and nosniff on every answer', async () => {
    const { web } = app();
    // superagent asks for gzip unless told otherwise.
    const get = await request(web).get('/text?q=a%20b').set('Accept-Encoding', 'identity');
    expect([get.status, get.text]).toEqual([200, 'q=a b gzip=false\n']);
    expect(get.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(get.headers['content-length']).toBe(String(Buffer.byteLength(get.text)));
    expect(get.headers['x-content-type-options']).toBe('nosniff');
    expect(get.headers['x-powered-by']).toBeUndefined();
    expect(get.headers['etag']).toBeUndefined();
    expect((await request(web).post('/text')).text).toBe('posted\n');
    // Paths are exact: no case folding, no trailing slash dropped, no dot segments resolved.
    for (const path of ['/text/', '/TEXT', '/text/x', '/', '/nothing', '/a/../text', '/%74ext', '//x/text']) {
      const r = await request(web).get(path);
      expect([path, r.status, r.text]).toEqual([path, 404, 'Not found.\n']);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('answers HEAD like GET without a body, and a method a path does not take with 405 and Allow', async () => {
    const { web } = app();
    const head = await request(web).head('/text').set('Accept-Encoding', 'identity');
    expect(head.status).toBe(200);
    // The length of the body a GET gets, which HEAD does not get.
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength('q= gzip=false\n')));
    const del = await request(web).delete('/text');
    expect([del.status, del.text, del.headers['allow']]).toEqual([405, 'Method not allowed.\n', 'GET, HEAD, POST']);
    const get = await request(web).get('/only-post');
    expect([get.status, get.headers['allow']]).toEqual([405, 'POST']);
  });

  it('takes gzip only when the client prefers it to the identity encoding', async () => {
    const { web } = app();
    const cases: [string, boolean][] = [
      ['gzip', true],
      ['gzip, deflate, br', true],
      ['identity', false],
      ['gzip;q=0', false],
      ['identity;q=1, gzip;q=0.5', false],
      ['*', true],
      ['br', false],
    ];
    for (const [accept, want] of cases) {
      const r = await request(web).get('/text').set('Accept-Encoding', accept);
      expect([accept, r.text]).toEqual([accept, `q= gzip=${want}\n`]);
    }
  });

  it('answers a route that fails with 500 and logs its message', async () => {
    const { web, logged } = app();
    const r = await request(web).get('/throws');
    expect([r.status, r.text]).toEqual([500, 'Internal error.\n']);
    expect(logged.join('')).toContain('the disk is gone');
    expect((await request(web).get('/text')).status).toBe(200);
  });

  it('runs the guard first: it answers for itself, goes on, or fails (logged as described, 500)', async () => {
    const guard: Guard = (req, res, next) => {
      const who = req.headers['x-who'];
      if (who === 'throws') throw new TypeError('secret-in-message');
      if (who === 'fails') return next(new RangeError('secret-in-message'));
      if (who !== 'ok') return sendText(res, 401, 'Unauthorized.\n');
      next();
    };
    const { web, logged } = app({ guard, describe: (err) => (err instanceof Error ? err.name : 'error') });
    expect((await request(web).post('/text').set('x-who', 'ok')).text).toBe('posted\n');
    expect((await request(web).post('/text')).status).toBe(401);
    // A refused request never reaches the router: not even a 404 says which paths exist.
    expect((await request(web).get('/nothing')).status).toBe(401);
    expect((await request(web).post('/text').set('x-who', 'throws')).status).toBe(500);
    expect((await request(web).post('/text').set('x-who', 'fails')).status).toBe(500);
    const log = logged.join('');
    expect(log).toContain('TypeError');
    expect(log).toContain('RangeError');
    expect(log).not.toContain('secret-in-message');
  });

  it('parses listen addresses as the flag takes them', () => {
    expect(parseListenAddress('127.0.0.1:10471')).toEqual({ host: '127.0.0.1', port: 10471 });
    expect(parseListenAddress(':10471')).toEqual({ port: 10471 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListenAddress('10471')).toThrow(/expected host:port/);
    expect(() => parseListenAddress(':70000')).toThrow(/invalid port/);
  });

  it('listens, says where, and names a taken address with the flag that picks another', async () => {
    const { web } = app();
    const served = await serve(web, { listenAddress: '127.0.0.1:0' });
    try {
      const port = Number(served.address.split(':')[1]);
      expect(served.url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`${served.url}/text`)).status).toBe(200);
      await expect(serve(app().web, { listenAddress: `127.0.0.1:${port}` })).rejects.toThrow(
        `cannot listen on 127.0.0.1:${port}: the address is already in use (is another instance running?); stop it, or pick another address with --web.listen-address`,
      );
    } finally {
      await served.close();
    }
    // Closed: the port is free again.
    const reopened = await serve(app().web, { listenAddress: served.address });
    await reopened.close();
  });

  it('closes a connection past --web.max-connections at once, and takes new ones when some close', async () => {
    const logged: string[] = [];
    const logger = createLogger('warn', 'logfmt', { write: (line: string) => logged.push(line) });
    const served = await serve(app().web, { listenAddress: '127.0.0.1:0', maxConnections: 3, logger });
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) idle.push(await open(served));
      await expect.poll(() => connections(served)).toBe(3);
      const refused = await open(served);
      const closed = await closedWithin(refused, 5_000);
      expect(closed, 'the fourth connection closed at once, unanswered').toEqual({ closed: true, data: '' });
      expect(logged.join('')).toMatch(/level=warn msg="refusing connections: as many are open as --web.max-connections allows" max_connections=3/);
      idle.pop()!.destroy();
      await expect.poll(() => connections(served)).toBe(2);
      expect((await fetch(`${served.url}/text`)).status).toBe(200);
    } finally {
      for (const s of idle) s.destroy();
      await served.close();
    }
    const byDefault = await serve(app().web, { listenAddress: '127.0.0.1:0' });
    expect(byDefault.server.maxConnections).toBe(WEB_MAX_CONNECTIONS);
    await byDefault.close();
  });

  it('closes a connection that trickles its headers in within seconds, while others are answered', async () => {
    const served = await serve(app().web, { listenAddress: '127.0.0.1:0' });
    const slow = await open(served);
    const header = 'GET /text HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100);
    let sent = 0;
    // A byte a second: each byte resets any time-out on idleness; only the headers' counts.
    const drip = setInterval(() => {
      if (!slow.destroyed) slow.write(header[sent++ % header.length]!);
    }, 1_000);
    try {
      const t0 = performance.now();
      const end = closedWithin(slow, 20_000);
      expect((await fetch(`${served.url}/text`)).status).toBe(200);
      const { closed, data } = await end;
      expect(closed).toBe(true);
      expect(data).toMatch(/^HTTP\/1\.1 408 /);
      // The headers' time-out is 10 s, checked every second.
      const seconds = (performance.now() - t0) / 1000;
      expect(seconds).toBeGreaterThan(9);
      expect(seconds).toBeLessThan(15);
      expect(sent).toBeGreaterThan(8);
    } finally {
      clearInterval(drip);
      slow.destroy();
      await served.close();
    }
  });

  it('closes a TLS connection whose handshake never comes within seconds', async () => {
    const certs = makeCerts(await tempDir());
    const served = await serve(app().web, {
      listenAddress: '127.0.0.1:0',
      tls: { options: { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey) } },
    });
    try {
      const t0 = performance.now();
      const silent = await open(served);
      const { closed } = await closedWithin(silent, 20_000);
      expect(closed).toBe(true);
      expect((performance.now() - t0) / 1000).toBeLessThan(15);
    } finally {
      await served.close();
    }
  });
});

/** A TCP connection to `served`, once connected. */
async function open(served: Served): Promise<Socket> {
  const { hostname, port } = new URL(served.url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

function connections(served: Served): Promise<number> {
  return new Promise((resolve, reject) => served.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** Whether the server closed `socket` within `ms`, and what it sent before. */
function closedWithin(socket: Socket, ms: number): Promise<{ closed: boolean; data: string }> {
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, data }), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, data });
    });
  });
}
