/**
 * Text in another charset (issue 28, item 10): the http probe reads a body by its byte
 * order mark, else by the charset its Content-Type declares, and names one it cannot read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpProbeFrom, runProbe } from '../helpers/http-probe.js';

const JSON_TEXT = JSON.stringify({ status: 'ok', role: 'primär', site: 'Zürich €5' });

/** The body in UTF-16, big- or little-endian, with its byte order mark. */
function utf16(text: string, order: 'le' | 'be'): Buffer {
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  return order === 'le' ? le : le.swap16();
}

interface Route {
  readonly type?: string;
  readonly body: Buffer;
  readonly encoding?: string;
}

const routes = new Map<string, Route>();
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    const r = routes.get(req.url ?? '');
    if (!r) return void res.writeHead(404).end();
    const headers: Record<string, string> = {};
    if (r.type !== undefined) headers['content-type'] = r.type;
    if (r.encoding !== undefined) headers['content-encoding'] = r.encoding;
    res.writeHead(200, headers).end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function probe(route: Route): Promise<Awaited<ReturnType<typeof runProbe>>> {
  const path = `/r${routes.size}`;
  routes.set(path, route);
  const bound = httpProbeFrom(`url: "http://{address}:${port}${path}"\nextract: { status: status, facts: { role: role, site: site } }`);
  try {
    return await runProbe(bound.probe, 5_000);
  } finally {
    await bound.close();
  }
}

describe('the charset of an answer', () => {
  it.each([
    ['ISO-8859-1 as declared', { type: 'application/json; charset=ISO-8859-1', body: Buffer.from(JSON_TEXT.replace('€', 'EUR'), 'latin1') }, 'Zürich EUR5'],
    ['windows-1252 as declared (the euro sign is 0x80)', { type: 'application/json; charset=windows-1252', body: Buffer.from(JSON_TEXT.replace('€', '\x80'), 'latin1') }, 'Zürich €5'],
    ['a quoted, upper-case charset', { type: 'application/json; Charset="LATIN1"', body: Buffer.from(JSON_TEXT.replace('€', 'EUR'), 'latin1') }, 'Zürich EUR5'],
    ['UTF-16LE with a byte order mark and no charset', { type: 'application/json', body: utf16(JSON_TEXT, 'le') }, 'Zürich €5'],
    ['UTF-16BE with a byte order mark, declared utf-16', { type: 'application/json; charset=utf-16', body: utf16(JSON_TEXT, 'be') }, 'Zürich €5'],
    ['UTF-16LE with a byte order mark though declared UTF-8 (the mark wins)', { type: 'application/json; charset=utf-8', body: utf16(JSON_TEXT, 'le') }, 'Zürich €5'],
    ['UTF-8 with a byte order mark', { type: 'application/json', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON_TEXT)]) }, 'Zürich €5'],
    ['UTF-8 without a Content-Type', { body: Buffer.from(JSON_TEXT) }, 'Zürich €5'],
    ['ISO-8859-1, gzipped', { type: 'application/json; charset=iso-8859-1', encoding: 'gzip', body: gzipSync(Buffer.from(JSON_TEXT.replace('€', 'EUR'), 'latin1')) }, 'Zürich EUR5'],
  ])('reads %s', async (_, route, site) => {
    const r = await probe(route);
    expect(r).toMatchObject({ success: true, facts: { role: 'primär', site } });
  });

  it('names a charset it cannot read in the reason', async () => {
    const r = await probe({ type: 'application/json; charset=x-ebcdic-nope', body: Buffer.from(JSON_TEXT) });
    expect(r).toMatchObject({ success: false, reason: 'bad_body', detail: 'unsupported charset "x-ebcdic-nope"' });
  });
});
