/**
 * A probe's deadline (src/monitor/deadline.ts): the signal the monitor gives each probe in
 * place of an AbortSignal, and the guard that answers `timeout` when it passes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Deadline, runGuarded, STALL_MS } from '../../src/monitor/deadline.js';
import { failure } from '../../src/probes/reasons.js';
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

describe('runGuarded and the exporter stalled', () => {
  /** A probe that answers success after `ms`, on a timer as a socket's answer would come. */
  const answersAfter = (ms: number) => () => new Promise<{ success: true }>((resolve) => setTimeout(() => resolve({ success: true }), ms));
  /** Blocks this thread, as a long synchronous task on the exporter's loop does. */
  const block = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

  it('a deadline that fires on time is the server’s timeout', async () => {
    expect(await runGuarded(answersAfter(400), 100)).toEqual({ success: false, reason: 'timeout', detail: 'deadline exceeded' });
  });

  it('a deadline that fires late, the loop blocked past it, is the exporter’s fault, not the server’s', async () => {
    const answer = runGuarded(answersAfter(2000), 100);
    block(100 + STALL_MS + 200);
    expect(await answer).toMatchObject({ success: false, reason: 'timeout', exporterFault: 'stalled' });
  });

  it('an answer that came in while the loop was blocked past the deadline is read, not timed out', async () => {
    // Due at 150 ms, after the 100 ms deadline; both wait while the thread is held up to 400 ms.
    const answer = runGuarded(answersAfter(150), 100);
    block(400);
    expect(await answer).toEqual({ success: true });
    // Held up for less than STALL_MS past the deadline, the same: the answer, not the server's timeout.
    const shortly = runGuarded(answersAfter(130), 100);
    block(160);
    expect(await shortly).toEqual({ success: true });
  });

  it('EMFILE and ENFILE are the exporter’s open files, not the server’s failure', () => {
    for (const code of ['EMFILE', 'ENFILE']) {
      const err = Object.assign(new Error(`connect ${code}`), { code, syscall: 'connect' });
      expect(failure(err, new Deadline())).toEqual({ success: false, reason: 'error', detail: code, exporterFault: 'open_files' });
    }
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(failure(refused, new Deadline()).exporterFault).toBeUndefined();
  });
});
