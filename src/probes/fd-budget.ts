import { readFileSync } from 'node:fs';

/**
 * How many probes may keep an idle connection open between probes (the http probe keeps
 * one per server's own origin over TLS only). Each costs one file descriptor for as long
 * as the exporter runs, so keep-alive is limited to what the
 * open-file limit allows after a quarter of it (at least 512, at most 4,096) is kept back
 * for the exporter's own listeners, scrapes and probes that connect afresh (up to
 * `--probe.concurrency`, 256 by default, at once).
 */
export class KeepAliveBudget {
  private wanted = 0;

  constructor(readonly slots: number = keepAliveSlots(openFileLimit())) {}

  /** True while slots remain; counts every request so the shortfall can be reported. */
  claim(): boolean {
    this.wanted++;
    return this.wanted <= this.slots;
  }

  /** A warning for the operator when some probes had to go without keep-alive. */
  shortfall(): string | undefined {
    if (this.wanted <= this.slots) return undefined;
    const limit = openFileLimit();
    const needed = limitFor(this.wanted);
    return (
      `${this.wanted - this.slots} of ${this.wanted} TLS probes open a new connection every time: the open-file limit ` +
      `(ulimit -n, now ${limit}) leaves keep-alive for ${this.slots}; raise it to at least ${needed} to keep them all`
    );
  }
}

const reserve = (limit: number): number => Math.min(4096, Math.max(512, Math.floor(limit / 4)));

export function keepAliveSlots(limit: number): number {
  return Math.max(0, limit - reserve(limit));
}

/** The smallest open-file limit that leaves `slots` keep-alive slots. */
export function limitFor(slots: number): number {
  // At most 4,096 steps: the reserve lies between 512 and 4,096.
  let limit = slots + 512;
  while (keepAliveSlots(limit) < slots) limit++;
  return limit;
}

/** RLIMIT_NOFILE as this process sees it (Node raises the soft limit to the hard one). */
export function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : Infinity;
  } catch {
    return Infinity;
  }
}
