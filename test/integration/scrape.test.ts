import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Judgement } from '../../src/evaluate/evaluate.js';
import { createLogger } from '../../src/log.js';
import { wholeExposition } from '../../src/metrics/render.js';
import { createApp } from '../../src/web/app.js';
import { serve, type Served } from '../../src/web/shell.js';
import { recordsFor } from '../helpers/records.js';

// A cluster whose /metrics text (about 14 MB) is far larger than what loopback's socket
// buffers hold: a client that reads nothing holds its scrape open.
const SERVERS = 8000;
const NOW = 1_790_000_000_000;
const lines = ['clusters:', '  - name: big', '    components:'];
for (const [name, port] of [['web', 80], ['service', 81]] as const) lines.push(`      - { name: ${name}, probe: { tcp: { port: ${port} } } }`);
lines.push('    servers:');
for (let i = 1; i <= SERVERS; i++) lines.push(`      - { name: node-${i}, address: 10.0.${i >> 8}.${i & 255} }`);
const config = parseConfig(lines.join('\n'), 'big.yml');
const { records, set } = recordsFor(config);
for (let i = 1; i <= SERVERS; i++) {
  set('big', `node-${i}`, 'web', { success: true, finishedMs: NOW - 2000, version: '8.6.2', keyHash: 'a1b2c3d4e5f6', os: 'Linux 6.1' });
  set('big', `node-${i}`, 'service', i % 7 ? { success: true, finishedMs: NOW - 1000 } : { success: false, reason: 'timeout', finishedMs: NOW - 1000 });
}
const judgement = new Judgement(config, records, NOW);

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

function get(url: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A client that asks for /metrics and reads nothing: its scrape stays open. */
async function stalledScrape(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
  return socket;
}

async function start(maxRequests?: number): Promise<{ served: Served; logged: string[] }> {
  const logged: string[] = [];
  const logger = createLogger('error', 'logfmt', { write: (s: string) => logged.push(s) });
  const app = createApp({
    judgement: () => judgement,
    events: () => ({ events: [], next: '00000000-0', more: false, missed: false }),
    ready: () => true,
    reload: () => Promise.resolve({ ok: true, changed: false }),
    ownRegistry: new Registry(),
    logger,
    maxRequests,
  });
  return { served: await serve(app, { listenAddress: '127.0.0.1:0' }), logged };
}

describe('/metrics, streamed', () => {
  let whole: Buffer;
  let exporter: { served: Served; logged: string[] };
  beforeAll(async () => {
    whole = await wholeExposition(judgement, new Registry());
    exporter = await start(2);
  });
  afterAll(() => exporter.served.close());

  it('sends the whole text in chunks, plain or gzipped as the client asks', async () => {
    expect(whole.length).toBeGreaterThan(10e6);
    const plain = await get(exporter.served.url, '/metrics');
    expect(plain.status).toBe(200);
    expect(plain.headers['transfer-encoding']).toBe('chunked');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers['vary']).toBe('Accept-Encoding');
    expect(plain.body.equals(whole)).toBe(true);
    const zipped = await get(exporter.served.url, '/metrics', { 'Accept-Encoding': 'gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.body.length).toBeLessThan(whole.length / 5);
    expect(gunzipSync(zipped.body).equals(whole)).toBe(true);
    const head = await get(exporter.served.url, '/metrics', {}, 'HEAD');
    expect([head.status, head.headers['content-type'], head.body.length]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8', 0]);
  });

  it('answers 503 past --web.max-requests scrapes at once, and takes scrapes again once they end', async () => {
    const stalled = [await stalledScrape(exporter.served.url), await stalledScrape(exporter.served.url)];
    try {
      // Both stalled scrapes hold their place until their clients go.
      await expect
        .poll(async () => (await get(exporter.served.url, '/metrics')).status, { timeout: 10_000 })
        .toBe(503);
      const refused = await get(exporter.served.url, '/metrics');
      expect([refused.status, refused.body.toString()]).toEqual([503, 'Too many scrapes at once (--web.max-requests=2); try again later.\n']);
      // Other routes still answer.
      expect((await get(exporter.served.url, '/-/healthy')).status).toBe(200);
    } finally {
      for (const s of stalled) s.destroy();
    }
    await expect.poll(async () => (await get(exporter.served.url, '/metrics', { 'Accept-Encoding': 'gzip' })).status, { timeout: 10_000 }).toBe(200);
    // A client that went away midway is not an error of the exporter's.
    expect(exporter.logged.join('')).toBe('');
  });

  it('takes any number of scrapes at once with --web.max-requests=0', async () => {
    const unlimited = await start(0);
    const stalled = await Promise.all([1, 2, 3].map(() => stalledScrape(unlimited.served.url)));
    try {
      const answer = await get(unlimited.served.url, '/metrics', { 'Accept-Encoding': 'gzip' });
      expect(answer.status).toBe(200);
      expect(gunzipSync(answer.body).equals(whole)).toBe(true);
    } finally {
      for (const s of stalled) s.destroy();
      await unlimited.served.close();
    }
  });
});
