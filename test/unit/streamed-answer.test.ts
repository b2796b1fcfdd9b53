import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { handler, StreamedAnswer } from '../../src/web/http.js';
import { tempDir } from '../helpers/stack.js';

interface Got {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** The answer ended as HTTP says it ends (not cut short). */
  readonly complete: boolean;
}

/** A GET that resolves however the answer ends; `onFirstData` runs at its first body bytes. */
function get(port: number, path: string, onFirstData?: (chunk: Buffer) => void): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => {
        if (chunks.length === 0) onFirstData?.(d);
        chunks.push(d);
      });
      const done = () => resolve({ headers: res.headers, body: Buffer.concat(chunks), complete: res.complete });
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('StreamedAnswer', () => {
  const logged: string[] = [];
  let server: Server;
  let port: number;
  const body = Buffer.from('line one\nline two\n');

  beforeAll(async () => {
    const logger = createLogger('error', 'logfmt', { write: (s: string) => logged.push(s) });
    server = createServer(
      handler(
        [
          {
            method: 'GET',
            path: '/whole',
            handle: (_req, res) => new StreamedAnswer(res, 200, 'text/plain', { Vary: 'Accept-Encoding' }).end(body),
          },
          {
            method: 'GET',
            path: '/parts',
            handle: (_req, res) => {
              const answer = new StreamedAnswer(res, 200, 'text/plain');
              answer.offer(body.subarray(0, 9));
              // Offered again before the first part left: not sent twice.
              answer.offer(body.subarray(0, 9));
              answer.end(body);
            },
          },
          {
            method: 'GET',
            path: '/fails',
            handle: async (_req, res) => {
              new StreamedAnswer(res, 200, 'text/plain').offer(body.subarray(0, 9));
              await Promise.resolve();
              throw new Error('the rendering failed');
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

  it('sends a body with nothing offered whole, with its Content-Length', async () => {
    const r = await get(port, '/whole');
    expect(r.body.toString()).toBe(body.toString());
    expect(r.headers['content-length']).toBe(String(body.length));
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expect(r.headers['vary']).toBe('Accept-Encoding');
    expect(r.headers['content-type']).toBe('text/plain');
  });

  it('sends offered bytes once, chunked, and the rest at the end', async () => {
    const r = await get(port, '/parts');
    expect(r.complete).toBe(true);
    expect(r.body.toString()).toBe(body.toString());
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.headers['content-length']).toBeUndefined();
  });

  it('cuts the answer short when the body fails after a part went out, and logs it', async () => {
    const r = await get(port, '/fails');
    expect(r.complete).toBe(false);
    expect(r.body.toString()).toBe('line one\n');
    expect(logged.join('')).toContain('the rendering failed');
  });

  it('sends an offered part while the body is still being written, without a turn of the event loop', async () => {
    // A server in its own process offers 256 kB, then spins (as a long rendering does,
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
        answer.offer(body.subarray(0, 262144));
        const until = Date.now() + 10000;
        while (!existsSync(${JSON.stringify(flag)}) && Date.now() < until);
        console.log(existsSync(${JSON.stringify(flag)}) ? 'ended after the client had the first bytes' : 'ended by the 10 s bound');
        answer.end(body);
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
    const r = await get(await childPort, '/', (first) => {
      expect(first[0]).toBe(0x61);
      writeFileSync(flag, '');
    });
    await exited;
    expect(existsSync(flag)).toBe(true);
    expect(lines[1]).toBe('ended after the client had the first bytes');
    expect(r.body.length).toBe(524288);
    expect(r.body.subarray(262144).every((b) => b === 0x62)).toBe(true);
  });
});
