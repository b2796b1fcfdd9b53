/**
 * A server that closes an idle keep-alive connection just as the next probe reuses it
 * (issue 11, item 1). The request is retried once on a new connection when it failed on a
 * reused connection before any byte of the answer arrived; never otherwise.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Deadline } from '../../src/monitor/deadline.js';
import type { ProbeResult } from '../../src/probes/types.js';
import { httpProbeFrom, onRequests, rawServer, runProbe, type BoundProbe, type RawServer } from '../helpers/http-probe.js';

const BODY = '{"status":"ok"}';
const OK = `HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const done of cleanup.splice(0)) await done();
});

async function serve(onConnection: (socket: Socket) => void): Promise<RawServer> {
  const server = await rawServer(onConnection);
  cleanup.push(() => server.close());
  return server;
}

function probeOf(url: string): BoundProbe {
  const bound = httpProbeFrom(`url: "${url}"\nextract: { status: status }\n`);
  cleanup.push(() => bound.close());
  return bound;
}

/**
 * The server: `HTTP/1.1 200 OK` with `Connection: keep-alive` and Content-Length,
 * no Keep-Alive header, and each connection closed `idleMs` after its last request.
 */
function closesWhenIdle(idleMs: number): (socket: Socket) => void {
  return (socket) => {
    let timer: NodeJS.Timeout | undefined;
    socket.on('close', () => clearTimeout(timer));
    onRequests(socket, () => {
      socket.write(OK);
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), idleMs);
    });
  };
}

interface Run {
  readonly failures: string[];
  readonly maxConnectionsPerProbe: number;
}

/** Probes every `intervalMs` (start to start, as the scheduler does), `count` times, one at a time. */
async function probeEvery(server: RawServer, bound: BoundProbe, intervalMs: number, count: number, timeoutMs: number): Promise<Run> {
  const failures: string[] = [];
  let maxConnectionsPerProbe = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const before = server.connections;
    const result = await runProbe(bound.probe, timeoutMs);
    maxConnectionsPerProbe = Math.max(maxConnectionsPerProbe, server.connections - before);
    if (!result.success) failures.push(`probe ${i}: ${result.reason} (${result.detail})`);
  }
  return { failures, maxConnectionsPerProbe };
}

describe('a server that closes idle keep-alive connections as the next probe comes', () => {
  // The numbers are a 1 s interval, 900 ms timeout and a server closing 1000 ms
  // after the last request: 4 false failures in 104 probes. The race is between the
  // server's idle close and the next request, so it needs the close delay equal to the
  // interval, not those values: at 50 ms the same 300 probes take 15 s, and today's main
  // fails about one in 15 of them (17 and 20 in two runs). The timeout stays 900 ms, so a
  // slow machine cannot turn a probe into a timeout. Both connection pools are covered:
  // one client per server (the URL names {address}) and a shared pool (a fixed origin).
  const INTERVAL_MS = 50;

  it.concurrent.each([
    ['one client per server', (port: number) => `http://{address}:${port}/health`],
    ['a pool shared by all servers', (port: number) => `http://127.0.0.1:${port}/health`],
  ])('%s: 0 failures in 300 probes, at most 2 connections per probe', async (_name, url) => {
    // Concurrent tests clean up after themselves: afterEach does not track them.
    const server = await rawServer(closesWhenIdle(INTERVAL_MS));
    const bound = httpProbeFrom(`url: "${url(server.port)}"\nextract: { status: status }\n`);
    try {
      const run = await probeEvery(server, bound, INTERVAL_MS, 300, 900);
      // The race did happen: the server closed connections under the probes.
      expect(server.connections).toBeGreaterThan(10);
      expect(run.failures).toEqual([]);
      expect(run.maxConnectionsPerProbe).toBeLessThanOrEqual(2);
    } finally {
      await bound.close();
      await server.close();
    }
  }, 60_000);
});

describe('what is not retried', () => {
  it.each([
    ['the status line and headers', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n'],
    ['the first bytes of the status line', 'HTTP/1.1 2'],
  ])('a failure on a reused connection after %s arrived: one connection, the failure stands', async (_name, partial) => {
    const server = await serve((socket) =>
      onRequests(socket, (_head, index) => {
        if (index === 0) return void socket.write(OK);
        socket.write(partial, () => setTimeout(() => socket.resetAndDestroy(), 20));
      }),
    );
    const { probe } = probeOf(`http://{address}:${server.port}/health`);
    expect(await runProbe(probe, 2_000)).toMatchObject({ success: true });
    const second = await runProbe(probe, 2_000);
    expect(second).toMatchObject({ success: false, reason: 'connection_reset' });
    expect(server.connections).toBe(1);
  });

  it('a failure on a fresh connection: one connection, the failure stands', async () => {
    const server = await serve((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const { probe } = probeOf(`http://{address}:${server.port}/health`);
    expect(await runProbe(probe, 2_000)).toMatchObject({ success: false, reason: 'connection_reset', detail: 'ECONNRESET' });
    expect(server.connections).toBe(1);
  });

  it('a retry that fails too: no third attempt, and the failure is the retry’s', async () => {
    // The first connection answers once, then resets the second request; every later
    // connection resets its first request.
    const server = await serve((socket) => {
      const first = server.connections === 1;
      onRequests(socket, (_head, index) => (first && index === 0 ? socket.write(OK) : socket.resetAndDestroy()));
    });
    const { probe } = probeOf(`http://{address}:${server.port}/health`);
    expect(await runProbe(probe, 2_000)).toMatchObject({ success: true });
    expect(await runProbe(probe, 2_000)).toMatchObject({ success: false, reason: 'connection_reset' });
    expect(server.connections).toBe(2);
  });

  it('the retry runs within the same deadline', async () => {
    // The first connection answers once, then holds the next request 200 ms before it
    // resets it; the retry's new connection never answers. Under a 300 ms deadline the
    // retry has 100 ms left, and the probe ends when the deadline does.
    const server = await serve((socket) => {
      const first = server.connections === 1;
      onRequests(socket, (_head, index) => {
        if (!first) return;
        if (index === 0) socket.write(OK);
        else setTimeout(() => socket.resetAndDestroy(), 200);
      });
    });
    const { probe } = probeOf(`http://{address}:${server.port}/health`);
    expect(await runProbe(probe, 2_000)).toMatchObject({ success: true });
    // The monitor's deadline (runGuarded), with a listener of the test's own before the probe's.
    const deadline = new Deadline();
    let abortedAt = 0;
    deadline.addEventListener('abort', () => (abortedAt = performance.now()));
    const timer = setTimeout(() => deadline.abort(), 300);
    const result: ProbeResult = await probe(deadline);
    const settledAt = performance.now();
    clearTimeout(timer);
    expect(result).toMatchObject({ success: false, reason: 'timeout' });
    expect(server.connections).toBe(2);
    // Settled by the deadline's own abort, in the same turn of the event loop.
    expect(abortedAt).toBeGreaterThan(0);
    expect(settledAt - abortedAt).toBeLessThan(50);
  });
});
