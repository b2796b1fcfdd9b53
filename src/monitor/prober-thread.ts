/**
 * The prober's own thread (node:worker_threads): the schedule, the probes and the reading
 * of answers run on an event loop that nothing the web side does can hold up (STYLE.md 20:
 * blackbox_exporter gives each probe its own goroutine and deadline). The main thread
 * sends configurations; the prober answers with rounds of observations (prober.ts).
 */
import { parentPort, workerData, Worker } from 'node:worker_threads';
import type { Config } from '../config/types.js';
import { fromWire, toWire, type WireConfig } from '../config/wire.js';
import { Prober, type ProberMessage, type ProberOptions } from './prober.js';

/** What the main thread sends: a configuration to probe, or the word to stop. */
type ToProber = { readonly kind: 'apply'; readonly config: WireConfig } | { readonly kind: 'stop' };

const options = (workerData as { prober?: ProberOptions } | null)?.prober;
if (parentPort && options) {
  const port = parentPort;
  const prober = new Prober(options, (message) => port.postMessage(message));
  port.on('message', (message: ToProber) => {
    if (message.kind === 'apply') prober.apply(fromWire(message.config));
    else void prober.stop().finally(() => port.postMessage({ kind: 'stopped' } satisfies ProberMessage));
  });
}

/**
 * This module's thread. Tests run the sources (TypeScript, through vitest), which a worker
 * thread cannot load: they run its build, which `npm test` makes first.
 */
const SELF = import.meta.url.endsWith('.ts') ? new URL('../../dist/src/monitor/prober-thread.js', import.meta.url) : new URL(import.meta.url);

/** The main thread's handle on a prober thread. */
export class ProberThread {
  private readonly worker: Worker;
  private stopping?: Promise<void>;

  /**
   * Starts the thread. `onMessage` gets every round and log line, in order; `onExit` is
   * called if the thread ends other than by `stop()` (an uncaught error in it), with why.
   */
  constructor(options: ProberOptions, onMessage: (message: ProberMessage) => void, onExit: (why: string) => void) {
    this.worker = new Worker(SELF, { workerData: { prober: options } });
    this.worker.on('message', onMessage);
    let why = 'it ended';
    this.worker.on('error', (err) => (why = err.message));
    this.worker.on('exit', (code) => {
      if (!this.stopping) onExit(`${why} (exit code ${code})`);
    });
    // The exporter's web server keeps the process alive; a prober alone does not.
    this.worker.unref();
  }

  /** Hands the prober a configuration: it probes that from now on (see Prober.apply). */
  apply(config: Config): void {
    this.worker.postMessage({ kind: 'apply', config: toWire(config) } satisfies ToProber);
  }

  /**
   * Stops probing: running probes finish and their last round is delivered to `onMessage`
   * before this settles; then the thread ends.
   */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      const done = (message: ProberMessage) => {
        if (message.kind !== 'stopped') return;
        this.worker.off('message', done);
        resolve();
      };
      this.worker.on('message', done);
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ kind: 'stop' } satisfies ToProber);
    }).then(async () => {
      await this.worker.terminate();
    });
    return this.stopping;
  }
}
