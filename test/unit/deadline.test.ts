/**
 * A probe's deadline (src/monitor/deadline.ts): the signal the monitor gives each probe in
 * place of an AbortSignal, and the guard that answers `timeout` when it passes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Deadline, runGuarded } from '../../src/monitor/deadline.js';
import { httpProbeFrom, rawServer, runProbe } from '../helpers/http-probe.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const done of cleanup.splice(0)) await done();
});

describe('Deadline', () => {
  it('runs each listener once when it aborts, with a TimeoutError as the reason, as AbortSignal.timeout() would', () => {
    const d = new Deadline();
    const calls: string[] = [];
    const a = (): void => void calls.push(`a:${d.aborted}`);
    const b = (): void => void calls.push('b');
    d.addEventListener('abort', a);
    d.addEventListener('abort', b);
    d.removeEventListener('abort', b);
    expect(d.aborted).toBe(false);
    expect(d.reason).toBeUndefined();
    d.abort();
    d.abort();
    expect(calls).toEqual(['a:true']);
    expect(d.reason).toBeInstanceOf(DOMException);
    expect((d.reason as DOMException).name).toBe('TimeoutError');
  });

  it('a probe that ignores its deadline is answered `timeout` at the deadline; one that throws, `error`', async () => {
    const started = performance.now();
    const answer = await runGuarded(() => new Promise(() => {}), 100);
    expect(answer).toMatchObject({ success: false, reason: 'timeout' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(await runGuarded(() => Promise.reject(new Error('boom')), 1000)).toMatchObject({ success: false, reason: 'error' });
    expect(
      await runGuarded(() => {
        throw new Error('boom');
      }, 1000),
    ).toMatchObject({ success: false, reason: 'error' });
  });

  it('an http probe past its deadline fails `timeout` and closes its connection to a server that never answers', async () => {
    let closedAt: number | undefined;
    const server = await rawServer((socket) => {
      socket.resume();
      socket.on('close', () => (closedAt = performance.now()));
    });
    cleanup.push(() => server.close());
    const bound = httpProbeFrom(`url: "http://127.0.0.1:${server.port}/health"\n`);
    cleanup.push(() => bound.close());
    const result = await runProbe(bound.probe, 300);
    expect(result).toMatchObject({ success: false, reason: 'timeout' });
    // The probe listened to its deadline: the server sees the connection close now, not at
    // the end of the test when the server itself is closed.
    await expect.poll(() => closedAt, { timeout: 5_000 }).toBeDefined();
    expect(server.connections).toBe(1);
  });
});
