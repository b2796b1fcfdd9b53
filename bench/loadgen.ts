// Sends blackbox_exporter the /probe requests Prometheus would send: every target once per
// interval, spread evenly over the interval, with a bound on requests in flight.
import { Agent, request } from 'undici';

export interface LoadCounters {
  sent: number;
  /** Answered by blackbox (HTTP 200), whatever the probe's outcome. */
  completed: number;
  /** Of those, `probe_success 1`. */
  succeeded: number;
  /** No answer from blackbox (timeout, connection error, non-200). */
  errors: number;
  /** Not sent because the queue was full (the generator or blackbox fell behind). */
  dropped: number;
}

export class ProbeLoad {
  readonly counters: LoadCounters = { sent: 0, completed: 0, succeeded: 0, errors: 0, dropped: 0 };
  private readonly agent: Agent;
  private readonly queue: number[] = [];
  private inFlight = 0;
  private next = 0;
  private started = 0;
  private timer?: NodeJS.Timeout;
  private readonly maxQueue: number;

  constructor(
    private readonly probeUrls: readonly string[],
    private readonly intervalMs: number,
    private readonly concurrency: number,
    /** Sent as X-Prometheus-Scrape-Timeout-Seconds, as Prometheus does. */
    private readonly scrapeTimeoutSeconds: number,
  ) {
    this.agent = new Agent({ connections: concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
    this.maxQueue = Math.max(1000, concurrency * 8);
  }

  start(): void {
    this.started = performance.now();
    this.timer = setInterval(() => this.tick(), 5);
  }

  snapshot(): LoadCounters {
    return { ...this.counters };
  }

  /** Stops sending and waits (at most `ms`) for requests in flight. */
  async stop(ms = 10_000): Promise<void> {
    clearInterval(this.timer);
    this.queue.length = 0;
    const until = performance.now() + ms;
    while (this.inFlight > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    await this.agent.destroy();
  }

  private tick(): void {
    const spacing = this.intervalMs / this.probeUrls.length;
    const due = Math.floor((performance.now() - this.started) / spacing);
    for (; this.next <= due; this.next++) {
      if (this.queue.length >= this.maxQueue) this.counters.dropped++;
      else this.queue.push(this.next % this.probeUrls.length);
    }
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const i = this.queue.shift()!;
      this.inFlight++;
      this.counters.sent++;
      void this.one(this.probeUrls[i]!).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async one(url: string): Promise<void> {
    try {
      const res = await request(url, {
        dispatcher: this.agent,
        headers: {
          accept: 'text/plain;version=0.0.4',
          'x-prometheus-scrape-timeout-seconds': String(this.scrapeTimeoutSeconds),
        },
        signal: AbortSignal.timeout((this.scrapeTimeoutSeconds + 5) * 1000),
      });
      const text = await res.body.text();
      if (res.statusCode !== 200) {
        this.counters.errors++;
        return;
      }
      this.counters.completed++;
      if (/^probe_success 1$/m.test(text)) this.counters.succeeded++;
    } catch {
      this.counters.errors++;
    }
  }
}
