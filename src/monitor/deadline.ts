/**
 * A probe's run under its deadline: the signal it is given (`Deadline`) and the guard that
 * answers `timeout` when the deadline passes (`runGuarded`).
 */
import type { Answer, EndpointProbe, ProbeSignal } from '../probes/types.js';

const DEADLINE: Answer = { success: false, reason: 'timeout', detail: 'deadline exceeded' };
const STALLED: Answer = { success: false, reason: 'timeout', detail: 'the exporter stalled past the deadline', exporterFault: 'stalled' };

/**
 * A deadline timer that fires this much later than it was due (100 ms) means the event loop
 * that runs the probes was held up: an answer may have been waiting unread, so the timeout
 * is the exporter's, not the server's. Timers of a busy but healthy loop fire within a few
 * tens of milliseconds (the schedule lag the exporter reports).
 */
export const STALL_MS = 100;
const THREW: Answer = { success: false, reason: 'error', detail: 'probe failed' };

/**
 * A probe's deadline as its signal (ProbeSignal): one plain object per probe. Node's
 * AbortSignal (an EventTarget whose prototype is set after it is made, then given its fields)
 * left garbage in the old generation for every probe: in a loop of 2,000 probe-like lives of
 * 25 ms a second, creating one tripled what scavenges promoted (2.9 -> 9.2 MB in 8 s), and at
 * 30,000 components `AbortController.signal` came second in a sampling profile of what was
 * not collected young (bench/RESULTS.md).
 */
export class Deadline implements ProbeSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined = undefined;

  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i >= 0) this.listeners!.splice(i, 1);
  }

  /** Aborts with a TimeoutError, as AbortSignal.timeout() would, and runs each listener once. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = new DOMException('deadline exceeded', 'TimeoutError');
    const listeners = this.listeners ?? [];
    this.listeners = undefined;
    for (const listener of listeners) listener();
  }
}

/**
 * Runs a probe under its deadline (`timeoutMs`): the probe's signal aborts then, and the
 * answer is a timeout even if the probe ignores the signal; a probe that throws is an
 * `error`. A deadline timer that fires late means this thread was held up, and an answer
 * that came in meanwhile may be waiting unread: the probe is given as long again (at most
 * STALL_MS) to read it before the verdict, and a deadline more than STALL_MS late is the
 * exporter's own fault (`stalled`), not the server's. The timer is cleared when the probe
 * settles: AbortSignal.timeout() would stay armed for the whole timeout and build a
 * DOMException (with a stack) for every probe. One promise, one timer at a time and one
 * Deadline per probe: this runs thousands of times a second.
 */
export function runGuarded(probe: EndpointProbe, timeoutMs: number): Promise<Answer> {
  return new Promise<Answer>((resolve) => {
    const deadline = new Deadline();
    const dueAt = performance.now() + timeoutMs;
    let timer = setTimeout(() => {
      const late = performance.now() - dueAt;
      timer = setTimeout(() => {
        deadline.abort();
        resolve(late > STALL_MS ? STALLED : DEADLINE);
      }, Math.min(late, STALL_MS));
    }, timeoutMs);
    let running: Promise<Answer>;
    try {
      running = probe(deadline);
    } catch {
      running = Promise.resolve(THREW);
    }
    running.then(
      (answer) => {
        clearTimeout(timer);
        resolve(answer);
      },
      () => {
        clearTimeout(timer);
        resolve(THREW);
      },
    );
  });
}
