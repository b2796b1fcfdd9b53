import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { acceptsGzip, handler, sendText } from '../../src/web/http.js';

/** One raw HTTP/1.1 exchange (fetch cannot send HEAD bodies' absence or a malformed URL as is). */
function raw(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the HTTP request handler of the exporter and the agent', () => {
  const logged: string[] = [];
  let server: Server;
  let port: number;

  beforeAll(async () => {
    const logger = createLogger('error', 'logfmt', { write: (s: string) => logged.push(s) });
    server = createServer(
      handler(
        [
          { method: 'GET', path: '/text', handle: (req, res) => sendText(res, 200, `q=${req.query.get('q') ?? ''} gzip=${acceptsGzip(req)}\n`) },
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
        { logger },
      ),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('routes by exact path and method, with the query parsed and nosniff on every answer', async () => {
    const get = await raw(port, 'GET', '/text?q=a%20b');
    expect(get).toMatchObject({ status: 200, body: 'q=a b gzip=false\n' });
    expect(get.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(get.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
    expect(get.headers['x-content-type-options']).toBe('nosniff');
    expect((await raw(port, 'POST', '/text')).body).toBe('posted\n');
    // Paths are exact: no case folding, no trailing slash dropped, no dot segments resolved.
    for (const path of ['/text/', '/TEXT', '/text/x', '/', '/nothing', '/a/../text', '/%74ext', '//x/text']) {
      const r = await raw(port, 'GET', path);
      expect([path, r.status, r.body]).toEqual([path, 404, 'Not found.\n']);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('answers HEAD like GET without a body, and a method a path does not take with 405 and Allow', async () => {
    const head = await raw(port, 'HEAD', '/text');
    expect(head.status).toBe(200);
    // The length of the body a GET gets, which HEAD does not get.
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength('q= gzip=false\n')));
    const del = await raw(port, 'DELETE', '/text');
    expect(del).toMatchObject({ status: 405, body: 'Method not allowed.\n' });
    expect(del.headers['allow']).toBe('GET, HEAD, POST');
    const get = await raw(port, 'GET', '/only-post');
    expect([get.status, get.headers['allow']]).toEqual([405, 'POST']);
  });

  it('takes gzip only when the client prefers it to the identity encoding', async () => {
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
      const r = await raw(port, 'GET', '/text', { 'accept-encoding': accept });
      expect([accept, r.body]).toEqual([accept, `q= gzip=${want}\n`]);
    }
  });

  it('answers a route that fails with 500 and logs its message, and a URL that does not parse with 400', async () => {
    const r = await raw(port, 'GET', '/throws');
    expect(r).toMatchObject({ status: 500, body: 'Internal error.\n' });
    expect(logged.join('')).toContain('the disk is gone');
    // A target that is not a path from "/" (the asterisk or absolute form): 400.
    for (const target of ['*', 'http://127.0.0.1/text']) expect([target, (await raw(port, 'GET', target)).status]).toEqual([target, 400]);
    // The server still answers.
    expect((await raw(port, 'GET', '/text')).status).toBe(200);
  });

  it('runs the guard first: it answers for itself, goes on, or fails (logged as the handler describes it, 500)', async () => {
    const lines: string[] = [];
    const logger = createLogger('error', 'logfmt', { write: (l: string) => lines.push(l) });
    const guarded = createServer(
      handler([{ method: 'POST', path: '/in', handle: (_req, res) => sendText(res, 200, 'in\n') }], {
        logger,
        describe: (err) => (err instanceof Error ? err.name : 'error'),
        guard: (req, res, next) => {
          const who = req.headers['x-who'];
          if (who === 'throws') throw new TypeError('secret-in-message');
          if (who === 'fails') return next(new RangeError('secret-in-message'));
          if (who !== 'ok') return sendText(res, 401, 'Unauthorized.\n');
          next();
        },
      }),
    );
    await new Promise<void>((resolve) => guarded.listen(0, '127.0.0.1', resolve));
    const p = (guarded.address() as AddressInfo).port;
    try {
      expect((await raw(p, 'POST', '/in', { 'x-who': 'ok' })).body).toBe('in\n');
      expect((await raw(p, 'POST', '/in')).status).toBe(401);
      // A refused request never reaches the router: not even a 404 says which paths exist.
      expect((await raw(p, 'GET', '/nothing')).status).toBe(401);
      expect((await raw(p, 'POST', '/in', { 'x-who': 'throws' })).status).toBe(500);
      expect((await raw(p, 'POST', '/in', { 'x-who': 'fails' })).status).toBe(500);
      const log = lines.join('');
      expect(log).toContain('TypeError');
      expect(log).toContain('RangeError');
      expect(log).not.toContain('secret-in-message');
      expect((await raw(p, 'POST', '/in', { 'x-who': 'ok' })).status).toBe(200);
    } finally {
      await new Promise<void>((resolve) => guarded.close(() => resolve()));
    }
  });
});
