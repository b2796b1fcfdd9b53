/**
 * Every failure reason of the closed set (src/metrics/catalogue.ts), each produced by the
 * http probe against a real loopback server that fails that way, with the error Node 20's
 * HTTP client and sockets really raise today (issue 11, item 10; issue 17 moved the probe
 * from the npm undici to node:http). The tests run side by side.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { probeReasons, type ProbeReason } from '../../src/metrics/catalogue.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { makeCerts, type Certs } from '../helpers/certs.js';
import { httpProbeFrom, onRequests, rawServer, runProbe, type RawServer } from '../helpers/http-probe.js';
import { tempDir } from '../helpers/stack.js';
import { requireTool } from '../helpers/tools.js';

interface Case {
  readonly reason: ProbeReason;
  readonly name: string;
  /** The detail, exactly or as a pattern. */
  readonly detail: string | RegExp;
  readonly run: () => Promise<ProbeResult>;
}

const EXTRACT = 'extract: { status: status }\n';
const OK = '{"status":"ok"}';

/**
 * Probes `url` once with the extra settings, then closes the probe. The cases run side by
 * side on one event loop, and the 4 MiB request of the EPIPE case can hold it for seconds
 * on a busy machine: the deadline is generous unless a case is about the deadline.
 */
async function probeOnce(url: string, extra = '', timeoutMs = 10_000): Promise<ProbeResult> {
  const bound = httpProbeFrom(`url: "${url}"\n${EXTRACT}${extra}`);
  try {
    return await runProbe(bound.probe, timeoutMs);
  } finally {
    await bound.close();
  }
}

/** A raw TCP server that answers every request with `answer(socket)`, probed once. */
async function againstRaw(answer: (socket: Socket) => void, extra = '', timeoutMs?: number): Promise<ProbeResult> {
  const server = await rawServer((socket) => onRequests(socket, () => answer(socket)));
  try {
    return await probeOnce(`http://127.0.0.1:${server.port}/health`, extra, timeoutMs);
  } finally {
    await server.close();
  }
}

/** Writes a complete answer, then closes the connection. */
const rawAnswer = (text: string) => (socket: Socket) => socket.end(text);

async function againstHttp(listener: RequestListener, extra = ''): Promise<ProbeResult> {
  const server = createHttpServer(listener);
  return withServer(server, 'http', extra);
}

async function withServer(server: Server, scheme: 'http' | 'https', extra: string, url = ''): Promise<ProbeResult> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    return await probeOnce(url || `${scheme}://127.0.0.1:${port}/health`, extra);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * Probes `url` once, with the built program (dist/: `npm run build`), in a network namespace
 * of its own (`unshare -rn`: a new user namespace makes its root able to set the routes)
 * that has only a loopback interface, set up by `ip` commands first. Nothing leaves the
 * namespace: it has no other interface. The kernel answers unreachable destinations there
 * itself, as it does for a powered-off host or a missing route (issue 28, item 2).
 */
function probeInNamespace(ipCommands: readonly string[], url: string): Promise<ProbeResult> {
  const unshare = requireTool('unshare');
  requireTool('ip');
  const dist = join(process.cwd(), 'dist/src');
  const script = `
    const { parseConfig } = await import(${JSON.stringify(`${dist}/config/load.js`)});
    const { buildProbes } = await import(${JSON.stringify(`${dist}/probes/build.js`)});
    const { read } = await import(${JSON.stringify(`${dist}/probes/extract.js`)});
    const config = parseConfig(JSON.stringify({ clusters: [{ name: 'c', components: [{ name: 'c', probe: { http: { url: ${JSON.stringify(url)} } } }], servers: [{ name: 's', address: '127.0.0.1' }] }] }), process.cwd() + '/probe.yml');
    const built = buildProbes(config);
    const component = config.clusters[0].servers[0].components[0];
    const answer = await built.probes.get(component.endpoint)(AbortSignal.timeout(5000));
    process.stdout.write(JSON.stringify(read(component.read, answer, built.hashKey)));
    await built.close();`;
  const shell = [...ipCommands.map((c) => `ip ${c}`), 'exec "$0" --input-type=module -e "$1"'].join(' && ');
  return new Promise((resolve, reject) => {
    execFile(unshare, ['-rn', 'sh', '-ec', shell, process.execPath, script], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`the probe in a network namespace failed (unshare -rn needs user namespaces): ${stderr || err.message}`));
      else resolve(JSON.parse(stdout) as ProbeResult);
    });
  });
}

/** An HTTPS server that asks for a client certificate signed by `c().ca` and refuses any other. */
function clientCertServer(c: () => Certs): Server {
  return createHttpsServer(
    { key: readFileSync(c().serverKey), cert: readFileSync(c().serverCert), ca: readFileSync(c().ca), requestCert: true, rejectUnauthorized: true },
    (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(OK),
  );
}

/**
 * Probes OpenSSL's own server (`openssl s_server`), which refuses a client certificate that
 * `c().ca` did not sign with a TLS alert, as the products' servers do (Node's TLS server
 * closes the connection without one), in the given TLS version.
 */
async function againstOpensslServer(c: () => Certs, version: '-tls1_2' | '-tls1_3', extra: string): Promise<ProbeResult> {
  const args = ['s_server', '-accept', '127.0.0.1:0', '-cert', c().serverCert, '-key', c().serverKey, '-CAfile', c().ca, '-Verify', '1', '-verify_return_error', version, '-www'];
  const server = spawn(requireTool('openssl'), args, { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`openssl s_server exited (${code}): ${out}`)));
    });
    return await probeOnce(`https://127.0.0.1:${port}/`, extra);
  } finally {
    server.kill();
  }
}

let certs: Certs;
let wrongNameCerts: Certs;
beforeAll(async () => {
  certs = makeCerts(await tempDir('reasons-'));
  wrongNameCerts = makeCerts(await tempDir('reasons-'), 'DNS:elsewhere.invalid');
});

function tlsServer(c: () => Certs): Server {
  return createHttpsServer({ key: readFileSync(c().serverKey), cert: readFileSync(c().serverCert) }, (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(OK),
  );
}

/**
 * A listening socket whose accept queue is full: its thread is blocked, so the kernel
 * completes a handshake or two into the queue and drops later connection attempts.
 */
async function fullBacklog(): Promise<{ port: number; fillers: Socket[]; close(): Promise<void> }> {
  const wake = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       server.close();
       process.exit(0);
     });`,
    { eval: true, workerData: wake },
  );
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  const fillers = Array.from({ length: 4 }, () => connect(port, '127.0.0.1').on('error', () => {}));
  return {
    port,
    fillers,
    close: async () => {
      for (const s of fillers) s.destroy();
      Atomics.store(wake, 0, 1);
      Atomics.notify(wake, 0);
      await new Promise((resolve) => worker.once('exit', resolve));
    },
  };
}

const cases: Case[] = [
  {
    reason: 'timeout',
    name: 'a server that reads the request and never answers: the deadline',
    detail: 'deadline exceeded',
    run: () => againstRaw(() => {}, '', 300),
  },
  {
    reason: 'timeout',
    // No timer of the HTTP client's own: the probe's deadline covers connecting too.
    name: 'a connection that never completes: the deadline',
    detail: 'deadline exceeded',
    run: async () => {
      const backlog = await fullBacklog();
      try {
        return await probeOnce(`http://127.0.0.1:${backlog.port}/health`, '', 1_000);
      } finally {
        await backlog.close();
      }
    },
  },
  {
    reason: 'connection_refused',
    name: 'nothing listens on the port',
    detail: 'ECONNREFUSED',
    run: async () => {
      const server: RawServer = await rawServer(() => {});
      const port = server.port;
      await server.close();
      return probeOnce(`http://127.0.0.1:${port}/health`);
    },
  },
  {
    reason: 'connection_reset',
    name: 'the server resets the connection on the request',
    detail: 'ECONNRESET',
    run: () => againstRaw((socket) => socket.resetAndDestroy()),
  },
  {
    reason: 'connection_reset',
    name: 'the server closes the connection on the request without an answer',
    // Node's "socket hang up".
    detail: 'ECONNRESET',
    run: () => againstRaw((socket) => socket.end()),
  },
  {
    reason: 'connection_reset',
    name: 'the server closes the connection while a large request is still being written',
    // EPIPE here; ECONNRESET where the kernel reports the reset or the close first.
    detail: /^(EPIPE|ECONNRESET)$/,
    run: async () => {
      const server = await rawServer((socket) => socket.destroy());
      try {
        return await probeOnce(`http://127.0.0.1:${server.port}/health`, `headers: { X-Pad: "${'x'.repeat(4 * 1024 * 1024)}" }\n`);
      } finally {
        await server.close();
      }
    },
  },
  {
    reason: 'dns',
    // No lookup leaves the machine: getaddrinfo (glibc) refuses a label over 63 bytes
    // before it asks any name server. Checked with strace: no socket but nscd's Unix socket.
    // A plain name under .invalid would be sent to the configured name server.
    name: 'a name that cannot resolve',
    detail: 'ENOTFOUND',
    run: () => probeOnce(`http://${'a'.repeat(64)}.invalid:8080/health`),
  },
  {
    reason: 'tls',
    name: 'a certificate for another name',
    detail: 'ERR_TLS_CERT_ALTNAME_INVALID',
    run: () => withServer(tlsServer(() => wrongNameCerts), 'https', `tls: { ca_file: "${wrongNameCerts.ca}" }\n`),
  },
  {
    reason: 'tls',
    name: 'a certificate from an unknown authority',
    detail: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    run: () => withServer(tlsServer(() => certs), 'https', ''),
  },
  {
    reason: 'tls',
    name: 'plain HTTP on an https:// URL',
    // OpenSSL's words for a record that is not TLS.
    detail: 'EPROTO: wrong version number',
    run: async () => {
      const server = createHttpServer((_req, res) => res.end(OK));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        return await probeOnce(`https://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  },
  {
    reason: 'http_status',
    name: 'a status outside the valid ones',
    detail: 'HTTP 503',
    run: () => againstHttp((_req, res) => res.writeHead(503).end()),
  },
  {
    // Issue 28, item 1: credentials refused say nothing about the component.
    reason: 'unauthorized',
    name: 'the monitoring account refused (401)',
    detail: 'HTTP 401',
    run: () => againstHttp((_req, res) => res.writeHead(401, { 'www-authenticate': 'Basic realm="admin"' }).end()),
  },
  {
    reason: 'unauthorized',
    name: 'the monitoring account not allowed (403)',
    detail: 'HTTP 403',
    run: () => againstHttp((_req, res) => res.writeHead(403).end()),
  },
  {
    reason: 'unauthorized',
    // TLS 1.3: the server's certificate_required alert.
    name: 'a server that wants a client certificate, and none is configured',
    detail: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    run: () => withServer(clientCertServer(() => certs), 'https', `tls: { ca_file: "${certs.ca}" }\n`),
  },
  {
    reason: 'unauthorized',
    name: 'a client certificate from an authority the server does not trust (TLS 1.3)',
    detail: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    run: () => againstOpensslServer(() => certs, '-tls1_3', `tls: { ca_file: "${certs.ca}", cert_file: "${wrongNameCerts.clientCert}", key_file: "${wrongNameCerts.clientKey}" }\n`),
  },
  {
    reason: 'unauthorized',
    name: 'a client certificate from an authority the server does not trust (TLS 1.2)',
    detail: 'EPROTO: tlsv1 alert unknown ca',
    run: () => againstOpensslServer(() => certs, '-tls1_2', `tls: { ca_file: "${certs.ca}", cert_file: "${wrongNameCerts.clientCert}", key_file: "${wrongNameCerts.clientKey}" }\n`),
  },
  {
    // Issue 28, item 2. Loopback routes live in the "local" table, looked up first; moved
    // after a rule that sends 127.0.0.9 to an `unreachable` route, the kernel answers as for
    // a host that does not answer ARP.
    reason: 'host_unreachable',
    name: 'a host the kernel has no way to (an unreachable route)',
    detail: 'EHOSTUNREACH',
    run: () =>
      probeInNamespace(
        ['link set lo up', 'route add unreachable 127.0.0.9/32 table 100', 'rule add pref 10 to 127.0.0.9 lookup 100', 'rule del pref 0', 'rule add pref 100 lookup local'],
        'http://127.0.0.9:8080/health',
      ),
  },
  {
    // The loopback interface down: no route to any network.
    reason: 'network_unreachable',
    name: 'no route to the network (the only interface down)',
    detail: 'ENETUNREACH',
    run: () => probeInNamespace([], 'http://127.0.0.1:8080/health'),
  },
  {
    reason: 'body_too_large',
    name: 'a chunked body over body_size_limit',
    detail: 'more than 1024 bytes',
    run: () => againstHttp((_req, res) => res.writeHead(200).end(`{"status":"ok","pad":"${'x'.repeat(2000)}"}`), 'body_size_limit: 1KiB\n'),
  },
  {
    reason: 'body_too_large',
    name: 'a Content-Length over body_size_limit',
    detail: 'content-length 5000',
    run: () => againstHttp((_req, res) => res.writeHead(200, { 'content-length': '5000' }).end('x'.repeat(5000)), 'body_size_limit: 1KiB\n'),
  },
  {
    reason: 'bad_body',
    name: 'an invalid header name in the answer',
    detail: 'not HTTP/1.1: Invalid header token',
    run: () => againstRaw(rawAnswer(`HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: ${OK.length}\r\n\r\n${OK}`)),
  },
  {
    reason: 'bad_body',
    name: 'a control byte in a header value',
    detail: /^not HTTP\/1\.1: Invalid header value char/,
    run: () => againstRaw(rawAnswer(`HTTP/1.1 200 OK\r\nX-Thing: a\x01b\r\nContent-Length: ${OK.length}\r\n\r\n${OK}`)),
  },
  {
    reason: 'bad_body',
    name: 'an answer that is not HTTP at all',
    detail: /^not HTTP\/1\.1: Expected HTTP\//,
    run: () => againstRaw(rawAnswer('SSH-2.0-OpenSSH_9.2\r\n')),
  },
  {
    reason: 'bad_body',
    name: 'a bad chunk size',
    detail: /^not HTTP\/1\.1: Invalid character in chunk size/,
    run: () => againstRaw(rawAnswer('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n')),
  },
  {
    // Node reports a body cut short as a reset, whether the server reset or closed.
    reason: 'connection_reset',
    name: 'a body shorter than its Content-Length on a closing connection',
    detail: 'ECONNRESET',
    run: () => againstRaw(rawAnswer(`HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100\r\n\r\n${OK}`)),
  },
  {
    reason: 'bad_body',
    name: 'headers over 16 KiB',
    detail: 'headers over 16 KiB',
    run: () => againstRaw(rawAnswer(`HTTP/1.1 200 OK\r\nX-Big: ${'x'.repeat(20_000)}\r\nContent-Length: ${OK.length}\r\n\r\n${OK}`)),
  },
  {
    reason: 'bad_body',
    name: 'a body that is not JSON',
    detail: 'not JSON',
    run: () => againstHttp((_req, res) => res.writeHead(200).end('<html>')),
  },
  {
    reason: 'status_not_ok',
    name: 'a status that is not healthy',
    detail: 'status "down"',
    run: () => againstHttp((_req, res) => res.writeHead(200).end('{"status":"down"}')),
  },
  {
    reason: 'error',
    // Node refuses the request before it connects (ERR_INVALID_CHAR); nothing else
    // the probe meets lacks a reason of its own.
    name: 'a configured header value with a control byte',
    detail: 'ERR_INVALID_CHAR',
    run: () => againstHttp((_req, res) => res.end(OK), 'headers: { X-Thing: "a\\x01b" }\n'),
  },
];

describe.concurrent('each failure reason, from the error that produces it', () => {
  it.each(cases.map((c) => [c.reason, c.name, c] as const))('%s: %s', async (reason, _name, c) => {
    const result = await c.run();
    expect(result).toMatchObject({ success: false, reason });
    if (typeof c.detail === 'string') expect(result.detail).toBe(c.detail);
    else expect(result.detail).toMatch(c.detail);
  }, 30_000);
});

describe('the reasons tested', () => {
  it('are the whole closed set', () => {
    expect(new Set(cases.map((c) => c.reason))).toEqual(new Set(probeReasons));
  });
});

