/**
 * Compressed answers (issue 11, item 2): the probe asks for the codings it decodes, decodes
 * each of them chunked or with a Content-Length, limits the decoded bytes, and names a
 * coding it cannot decode.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, createGzip, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpProbeFrom, runProbe } from '../helpers/http-probe.js';

const JSON_BODY = JSON.stringify({ status: 'ok', version: '1.2.3', pad: 'x'.repeat(4000) });

interface Route {
  readonly encoding?: string;
  readonly body: Buffer;
}

const routes = new Map<string, Route>();
const seen: IncomingHttpHeaders[] = [];
let server: Server;
let port: number;
/** A gzip body of zeros: about 200 KB on the wire, 200 MB decoded. */
let bomb: Buffer;

function route(path: string, r: Route): string {
  routes.set(path, r);
  return path;
}

beforeAll(async () => {
  const parts: Buffer[] = [];
  const gzip = createGzip({ level: 9 });
  gzip.on('data', (b: Buffer) => parts.push(b));
  const ended = new Promise((resolve) => gzip.on('end', resolve));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 200; i++) if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once('drain', resolve));
  gzip.end();
  await ended;
  bomb = Buffer.concat(parts);

  // `/chunked/...` streams the body in small writes without a length (Transfer-Encoding:
  // chunked); `/length/...` sends it whole with its Content-Length.
  server = createServer((req, res) => {
    seen.push(req.headers);
    const [, framing, name] = /^\/(chunked|length)(\/.*)$/.exec(req.url ?? '') ?? [];
    const r = name === undefined ? undefined : routes.get(name);
    if (!r) return void res.writeHead(404).end();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (r.encoding !== undefined) headers['content-encoding'] = r.encoding;
    if (framing === 'length') return void res.writeHead(200, { ...headers, 'content-length': String(r.body.length) }).end(r.body);
    res.writeHead(200, headers);
    res.on('error', () => {});
    let at = 0;
    const pump = (): void => {
      while (at < r.body.length && !res.destroyed) {
        const chunk = r.body.subarray(at, at + 1000);
        at += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function probe(path: string, extra = ''): Promise<ReturnType<typeof runProbe>> {
  const bound = httpProbeFrom(`url: "http://{address}:${port}${path}"\nextract: { status: status, version: version }\n${extra}`);
  try {
    return await runProbe(bound.probe, 5_000);
  } finally {
    await bound.close();
  }
}

const json = Buffer.from(JSON_BODY);
const codings = [
  ['gzip', route('/gzip', { encoding: 'gzip', body: gzipSync(json) })],
  ['x-gzip', route('/x-gzip', { encoding: 'x-gzip', body: gzipSync(json) })],
  ['deflate (zlib-wrapped, RFC 1950)', route('/deflate', { encoding: 'deflate', body: deflateSync(json) })],
  ['deflate (raw, RFC 1951)', route('/deflate-raw', { encoding: 'deflate', body: deflateRawSync(json) })],
  ['br', route('/br', { encoding: 'br', body: brotliCompressSync(json) })],
  ['identity', route('/identity', { encoding: 'identity', body: json })],
  ['upper case GZIP', route('/gzip-upper', { encoding: 'GZIP', body: gzipSync(json) })],
  ['gzip then br ("gzip, br")', route('/gzip-br', { encoding: 'gzip, br', body: brotliCompressSync(gzipSync(json)) })],
  ['no Content-Encoding', route('/plain', { body: json })],
] as const;

describe('the codings the probe decodes', () => {
  it.each(codings.flatMap(([name, path]) => [[name, 'chunked', path] as const, [name, 'length', path] as const]))(
    '%s, %s: read as JSON',
    async (_name, framing, path) => {
      expect(await probe(`/${framing}${path}`)).toMatchObject({ success: true, status: 'ok', version: '1.2.3' });
    },
  );

  it('asks for them with Accept-Encoding, unless the configuration sets that header', async () => {
    seen.length = 0;
    await probe('/length/plain');
    await probe('/length/plain', 'headers: { Accept-Encoding: identity }\n');
    expect(seen.map((h) => h['accept-encoding'])).toEqual(['gzip, deflate, br', 'identity']);
  });
});

describe('limits and failures', () => {
  const unsupported = [
    ['zstd', route('/zstd', { encoding: 'zstd', body: json })],
    ['compress', route('/compress', { encoding: 'compress', body: json })],
    ['gzip, zstd', route('/gzip-zstd', { encoding: 'gzip, zstd', body: gzipSync(json) })],
  ] as const;
  it.each(unsupported.flatMap(([coding, path]) => [[coding, 'chunked', path] as const, [coding, 'length', path] as const]))(
    'an unsupported coding (%s, %s) fails bad_body and names it',
    async (coding, framing, path) => {
      const name = coding.split(', ').at(-1);
      expect(await probe(`/${framing}${path}`)).toEqual({ success: false, reason: 'bad_body', detail: `unsupported content-encoding "${name}"` });
    },
  );

  it.each(['chunked', 'length'])('data that is not what its coding says fails bad_body (%s)', async (framing) => {
    route('/bad-gzip', { encoding: 'gzip', body: Buffer.concat([gzipSync(json).subarray(0, 20), Buffer.alloc(50, 7)]) });
    expect(await probe(`/${framing}/bad-gzip`)).toEqual({ success: false, reason: 'bad_body', detail: 'not valid gzip data' });
  });

  it.each(['chunked', 'length'])(
    'a 200 KB gzip body that expands to 200 MB fails body_too_large, and decoding stops at the limit (%s)',
    async (framing) => {
      route('/bomb', { encoding: 'gzip', body: bomb });
      expect(bomb.length).toBeLessThan(300_000);
      // Memory held outside the JS heap (zlib's output buffers) is sampled while the probe
      // runs: decoding all of it held 400 MB here; stopping at the limit, 1.5 MB.
      const base = process.memoryUsage().arrayBuffers;
      let peak = base;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
      const result = await probe(`/${framing}/bomb`);
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      expect(result).toEqual({ success: false, reason: 'body_too_large', detail: 'more than 1048576 bytes once decoded' });
      expect(peak - base).toBeLessThan(16 * 1024 * 1024);
    },
  );

  it('the limit is on decoded bytes: a body that decodes within a larger limit is read', async () => {
    const big = Buffer.from(JSON.stringify({ status: 'ok', version: '1.2.3', pad: 'x'.repeat(3 * 1024 * 1024) }));
    route('/big', { encoding: 'gzip', body: gzipSync(big) });
    expect(await probe('/chunked/big')).toMatchObject({ success: false, reason: 'body_too_large' });
    expect(await probe('/chunked/big', 'body_size_limit: 4MiB\n')).toMatchObject({ success: true, status: 'ok' });
  });

  it('the wire bytes are bounded too: a compressed body larger than the limit stops there', async () => {
    // Random bytes do not compress: the gzip body is as large as its content.
    route('/random', { encoding: 'gzip', body: gzipSync(randomBytes(256 * 1024)) });
    expect(await probe('/chunked/random', 'body_size_limit: 64KiB\n')).toEqual({
      success: false,
      reason: 'body_too_large',
      detail: `more than ${64 * 1024 + 64 + 1024} bytes`,
    });
    // With a Content-Length, the head is enough to tell.
    expect(await probe('/length/random', 'body_size_limit: 64KiB\n')).toMatchObject({
      success: false,
      reason: 'body_too_large',
      detail: expect.stringMatching(/^content-length \d+$/),
    });
  });
});
