/**
 * `/metrics` writes each scrape into memory a previous scrape gave back once it was sent
 * (BufferPool). Here, over real sockets, clients that read slowly, go away mid-answer, ask
 * for gzip or only for the headers, while new rounds keep replacing the snapshot: every
 * answer must be exactly the text of one snapshot, and memory given back is scribbled over
 * at once, so an answer read from recycled memory would show it.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { Judgement } from '../../src/evaluate/evaluate.js';
import { createLogger } from '../../src/log.js';
import { exposition } from '../../src/metrics/render.js';
import { BufferPool } from '../../src/metrics/text-buffer.js';
import { createApp } from '../../src/web/app.js';
import { StreamedAnswer } from '../../src/web/http.js';
import { recordsFor } from '../helpers/records.js';

const SERVERS = 8000;
const config = parseConfig(
  `clusters:
  - name: big
    components: [{ name: web, probe: { tcp: { port: 80 } } }, { name: service, probe: { tcp: { port: 81 } } }]
    servers:
${Array.from({ length: SERVERS }, (_, i) => `      - { name: node-${i}, address: 10.${i >> 16}.${(i >> 8) & 255}.${i & 255} }`).join('\n')}
`,
  'recycle.yml',
);
const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const { records, set } = recordsFor(config);
for (let i = 0; i < SERVERS; i++) {
  for (const c of ['web', 'service']) set('big', `node-${i}`, c, { success: i % 9 !== 0, reason: 'timeout', finishedMs: NOW - i, durationMs: 1.5 + i, version: `8.${i % 3}`, heartbeatMs: NOW - 2 * i });
}

const own = new Registry();
let round = 0;
/** Every judgement the app took: an answer must be the text of one of them. */
const taken: Judgement[] = [];
let server: Server;
let port: number;
const give = BufferPool.prototype.give;
/** Answers that came chunked. */
let chunked = 0;

beforeAll(async () => {
  // Memory given back is scribbled over: an answer still reading it would carry the marks.
  vi.spyOn(BufferPool.prototype, 'give').mockImplementation(function (this: BufferPool, body: Buffer) {
    Buffer.from(body.buffer, body.byteOffset, body.byteLength).fill('#');
    give.call(this, body);
  });
  server = await listening(
    () => {
      // Each round further on: heartbeat ages of other lengths, so texts differ in length too.
      const j = new Judgement(config, records, NOW + round * 1_234_567);
      taken.push(j);
      return j;
    },
    () => round,
    1000,
  );
  port = (server.address() as AddressInfo).port;
});

/** The app on a loopback port, with these judgements, their round and how long one is shared. */
async function listening(judgement: () => Judgement, snapshotVersion: () => number, snapshotMaxAgeMs: number): Promise<Server> {
  const app = createApp({
    judgement,
    snapshotVersion,
    snapshotMaxAgeMs,
    events: () => [],
    ready: () => true,
    reload: () => Promise.resolve({ ok: true, changed: false }),
    ownRegistry: own,
    logger: createLogger('error', 'logfmt', { write: () => true }),
  });
  const listener = createServer(app);
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return listener;
}

afterAll(async () => {
  vi.restoreAllMocks();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/**
 * One GET over a raw socket: reads nothing for `stallMs` (the server's writes back up),
 * then all of it; with `abortAfter`, goes away after that many bytes. Returns the body.
 */
function get(opts: { stallMs?: number; abortAfter?: number; gzip?: boolean; head?: boolean; http10?: boolean } = {}): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let got = 0;
    socket.on('error', (err) => (opts.abortAfter === undefined ? reject(err) : resolve(null)));
    socket.write(`${opts.head ? 'HEAD' : 'GET'} /metrics HTTP/1.${opts.http10 ? 0 : 1}\r\nHost: x\r\nConnection: close\r\n${opts.gzip ? 'Accept-Encoding: gzip\r\n' : ''}\r\n`);
    socket.pause();
    setTimeout(() => socket.resume(), opts.stallMs ?? 0);
    socket.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (opts.abortAfter !== undefined && got >= opts.abortAfter) {
        socket.destroy();
        resolve(null);
      }
    });
    socket.on('end', () => {
      const all = Buffer.concat(parts);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split).toString();
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      // HTTP/1.0 has no chunks: an answer cut short would look whole, so it comes with its length.
      if (opts.http10) expect(head).toMatch(/^content-length: \d+$/im);
      let body = all.subarray(split + 4);
      if (opts.head) return resolve(body);
      // A plain answer that its request rendered went out while it was written: chunked.
      if (/^transfer-encoding: chunked$/im.test(head)) {
        chunked++;
        body = dechunk(body);
      }
      else expect(body.length).toBe(Number(/content-length: (\d+)/i.exec(head)?.[1]));
      resolve(opts.gzip ? gunzipSync(body) : body);
    });
  });
}

/** The body of a chunked answer (RFC 9112 §7.1), which must end with its last chunk. */
function dechunk(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let p = 0; ; ) {
    const eol = b.indexOf('\r\n', p);
    expect(eol, 'a chunk size line').toBeGreaterThan(p);
    const size = parseInt(b.subarray(p, eol).toString(), 16);
    if (size === 0) return Buffer.concat(parts);
    parts.push(b.subarray(eol + 2, eol + 2 + size));
    p = eol + 2 + size + 2;
  }
}

describe('/metrics from recycled memory', () => {
  it('answers an HTTP/1.0 client that renders a new snapshot whole, with its length', async () => {
    round++;
    const before = chunked;
    const body = await get({ http10: true });
    expect(chunked).toBe(before);
    expect(body!.toString()).toMatch(/^appcluster_server_online\{app_cluster="big",server="node-1"\} \d$/m);
  });

  it('streams the records as they were when the scrape started, while later rounds change them', async () => {
    round++;
    const judged = NOW + round * 1_234_567;
    const before = (await exposition(new Judgement(config, records, judged), own)).toString();
    const take = vi.spyOn(StreamedAnswer.prototype, 'take');
    try {
      const chunkedBefore = chunked;
      // A client that reads nothing for a while: the scrape waits for it part after part.
      const answer = get({ stallMs: 1500 });
      await expect.poll(() => take.mock.calls.length, { timeout: 10_000 }).toBeGreaterThan(0);
      // The next round: every component down, on another version.
      for (let i = 0; i < SERVERS; i++) set('big', `node-${i}`, 'web', { success: false, reason: 'connection_refused', finishedMs: judged, durationMs: 1, version: '9.9' });
      round++;
      const body = (await answer)!.toString();
      expect(chunked, 'the answer was streamed').toBe(chunkedBefore + 1);
      expect(body).toBe(before);
      expect((await exposition(new Judgement(config, records, judged), own)).toString()).not.toBe(before);
    } finally {
      take.mockRestore();
    }
  });

  it('answers every client with exactly the text of one snapshot while rounds replace it', async () => {
    const answers: Promise<Buffer | null>[] = [];
    for (let wave = 0; wave < 12; wave++) {
      round++;
      answers.push(
        get({ stallMs: 300 }),
        get(),
        get({ gzip: true, stallMs: 100 }),
        get({ abortAfter: 100_000 }),
        get({ head: true }),
        get({ stallMs: 50 }),
      );
      await new Promise((r) => setTimeout(r, 40 + (wave % 3) * 60));
    }
    const bodies = await Promise.all(answers);
    const texts = new Set<string>();
    for (const s of taken) texts.add((await exposition(s, own)).toString());
    let checked = 0;
    for (const body of bodies) {
      if (body === null || body.length === 0) continue;
      const text = body.toString();
      expect(text.includes('#'.repeat(8)), 'an answer read recycled memory').toBe(false);
      expect(texts.has(text), 'an answer that is no snapshot').toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(12 * 4);
    expect(chunked, 'answers sent while they were written').toBeGreaterThan(0);
    // Memory was in fact reused.
    expect(vi.mocked(BufferPool.prototype.give).mock.calls.length).toBeGreaterThan(3);
  }, 60_000);
});

describe('/metrics of a small text', () => {
  const small = parseConfig(
    `clusters:
  - name: small
    components: [{ name: web, probe: { tcp: { port: 80 } } }]
    servers: [{ name: a, address: 10.0.0.1 }, { name: b, address: 10.0.0.2 }]
`,
    'small.yml',
  );
  const { records: smallRecords, set: setSmall } = recordsFor(small);
  setSmall('small', 'a', 'web', { success: true, finishedMs: NOW, durationMs: 2 });
  setSmall('small', 'b', 'web', { success: false, reason: 'timeout', finishedMs: NOW, durationMs: 2 });
  let renderings = 0;
  let smallServer: Server;

  beforeAll(async () => {
    smallServer = await listening(
      () => {
        renderings++;
        return new Judgement(small, smallRecords, NOW);
      },
      () => 0,
      60_000,
    );
  });

  afterAll(async () => {
    smallServer.closeAllConnections();
    await new Promise((resolve) => smallServer.close(resolve));
  });

  it('is not streamed: the scrapes of a round share one whole rendering, even after a large text elsewhere', async () => {
    const end = vi.spyOn(StreamedAnswer.prototype, 'end');
    const take = vi.spyOn(StreamedAnswer.prototype, 'take');
    try {
      const url = `http://127.0.0.1:${(smallServer.address() as AddressInfo).port}/metrics`;
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await fetch(url, { headers: { 'Accept-Encoding': 'identity' } }));
      const bodies = await Promise.all(answers.map((a) => a.text()));
      for (const [i, a] of answers.entries()) {
        expect(a.headers.get('content-length')).toBe(String(Buffer.byteLength(bodies[i]!)));
        expect(bodies[i]).toBe(bodies[0]);
      }
      expect(bodies[0]).toMatch(/^appcluster_server_online\{app_cluster="small",server="b"\} 0$/m);
      expect(end.mock.calls.length + take.mock.calls.length, 'streamed answers').toBe(0);
      expect(renderings, 'judgements taken').toBe(1);
    } finally {
      end.mockRestore();
      take.mockRestore();
    }
  });
});
