import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { acceptsGzip, AnswerClosed, handler, sendText, StreamedAnswer } from '../../src/web/http.js';
import { tempDir } from '../helpers/stack.js';

interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** The answer ended as HTTP says it ends (not cut short). */
  readonly complete: boolean;
}

/**
 * One raw HTTP/1.1 exchange (fetch cannot send HEAD bodies' absence or a malformed URL as
 * is), resolved however the answer ends; `onFirstData` runs at its first body bytes.
 */
function raw(port: number, method: string, path: string, headers: Record<string, string> = {}, onFirstData?: (chunk: string) => void): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body === '') onFirstData?.(d);
        body += d;
      });
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: res.complete });
      res.on('end', done);
      res.on('aborted', done);
      res.on('error', done);
    });
    req.on('error', reject);
    req.end();
  });
}

const streamed = Buffer.from('line one\nline two\n');
/** More than loopback's socket buffers hold: a client that reads nothing leaves most of it waiting. */
const large = Buffer.alloc(64 << 20, 'x');

describe('the HTTP request handler of the exporter and the agent', () => {
  const logged: string[] = [];
  /** What `take` of the large part came to on /stalls: 'taken', 'sent', or the error's name. */
  let stalled: Promise<string> | undefined;
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
            path: '/whole',
            handle: (_req, res) => new StreamedAnswer(res, 200, 'text/plain', { Vary: 'Accept-Encoding' }).end(streamed),
          },
          {
            method: 'GET',
            path: '/parts',
            handle: async (_req, res) => {
              const answer = new StreamedAnswer(res, 200, 'text/plain');
              await answer.take(streamed.subarray(0, 9));
              await answer.end(streamed.subarray(9));
            },
          },
          {
            method: 'GET',
            path: '/stalls',
            handle: (_req, res) => {
              const taken = new StreamedAnswer(res, 200, 'text/plain', {}, 300).take(large);
              stalled = taken === undefined ? Promise.resolve('taken') : taken.then(() => 'sent', (err: Error) => err.name);
              return stalled.then(() => undefined);
            },
          },
          {
            method: 'GET',
            path: '/fails-midway',
            handle: async (_req, res) => {
              await new StreamedAnswer(res, 200, 'text/plain').take(streamed.subarray(0, 9));
              await Promise.resolve();
              throw new Error('the rendering failed');
            },
          },
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

  it('StreamedAnswer: sends a body that comes to the end in one piece whole, with its Content-Length', async () => {
    const r = await raw(port, 'GET', '/whole');
    expect(r).toMatchObject({ status: 200, body: streamed.toString(), complete: true });
    expect(r.headers['content-length']).toBe(String(streamed.length));
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(r.headers['vary']).toBe('Accept-Encoding');
    expect(r.headers['content-type']).toBe('text/plain');
  });

  it('StreamedAnswer: sends parts chunked, the last at the end', async () => {
    const r = await raw(port, 'GET', '/parts');
    expect(r).toMatchObject({ status: 200, body: streamed.toString(), complete: true });
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.headers['content-length']).toBeUndefined();
  });

  it('StreamedAnswer: cuts the answer short when the body fails after a part went out, and logs it', async () => {
    const r = await raw(port, 'GET', '/fails-midway');
    expect(r).toMatchObject({ status: 200, body: 'line one\n', complete: false });
    expect(logged.join('')).toContain('the rendering failed');
  });

  it('StreamedAnswer: a part the client does not read is given up after the stall bound, and the connection closed', async () => {
    // A client that sends its request and reads nothing.
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.on('error', () => undefined);
    socket.write('GET /stalls HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => stalled, { timeout: 5000 }).toBeDefined();
    expect(await stalled).toBe(new AnswerClosed().name);
    // Closed by the server: what the kernel held is read, then the connection ends.
    socket.resume();
    await closed;
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

describe('StreamedAnswer while the body is written without yielding', () => {
  it('sends a part at once, without a turn of the event loop', async () => {
    // A server in its own process sends 256 kB, then spins (as a long rendering does,
    // without yielding) until the client says it has the first bytes, or 10 s pass.
    const dir = await tempDir();
    const flag = join(dir, 'got-first-bytes');
    const http = join(import.meta.dirname, '../../dist/src/web/http.js');
    const script = `
      import { createServer } from 'node:http';
      import { existsSync } from 'node:fs';
      import { StreamedAnswer } from ${JSON.stringify(http)};
      const body = Buffer.concat([Buffer.alloc(262144, 'a'), Buffer.alloc(262144, 'b')]);
      const server = createServer((req, res) => {
        const answer = new StreamedAnswer(res, 200, 'text/plain');
        answer.take(body.subarray(0, 262144));
        const until = Date.now() + 10000;
        while (!existsSync(${JSON.stringify(flag)}) && Date.now() < until);
        console.log(existsSync(${JSON.stringify(flag)}) ? 'ended after the client had the first bytes' : 'ended by the 10 s bound');
        answer.end(body.subarray(262144));
        server.close();
      });
      server.listen(0, '127.0.0.1', () => console.log(server.address().port));
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    let gotPort: (port: number) => void;
    const childPort = new Promise<number>((resolve) => (gotPort = resolve));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      lines.push(...d.trim().split('\n'));
      if (/^\d+$/.test(lines[0] ?? '')) gotPort(Number(lines[0]));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    const r = await raw(await childPort, 'GET', '/', {}, (first) => {
      expect(first[0]).toBe('a');
      writeFileSync(flag, '');
    });
    await exited;
    expect(existsSync(flag)).toBe(true);
    expect(lines[1]).toBe('ended after the client had the first bytes');
    expect(r.body).toBe('a'.repeat(262144) + 'b'.repeat(262144));
  });
});
