import { readFileSync } from 'node:fs';

/**
 * Idle plain-HTTP connections kept between probes at most, one per server's origin. A new
 * connection per probe costs a little CPU, which counts where probes are few, while each
 * idle connection holds memory and a file descriptor, which counts where servers are many:
 * the first 1,024 keep theirs (the figures: bench/RESULTS.md). TLS connections are kept as
 * the open-file limit allows: a handshake costs far more than a plain connect.
 */
export const PLAIN_KEEP_ALIVE = 1024;

/**
 * Which probes may keep an idle connection open between probes: TLS ones as the open-file
 * limit allows, plain-HTTP ones up to `plainSlots` within the same limit. Each costs one
 * file descriptor for as long as the exporter runs, so keep-alive is limited to what the
 * open-file limit allows after a quarter of it (at least 512, at most 4,096) is kept back
 * for the exporter's own listeners, scrapes and probes that connect afresh (up to
 * `--probe.concurrency`, 256 by default, at once).
 */
export class KeepAliveBudget {
  private plainWanted = 0;
  private plainGranted = 0;
  private tlsWanted = 0;
  private tlsGranted = 0;

  constructor(
    readonly slots: number = keepAliveSlots(openFileLimit()),
    readonly plainSlots: number = PLAIN_KEEP_ALIVE,
  ) {}

  /**
   * True when this probe may keep its connection: while slots remain, and for plain HTTP
   * while fewer than `plainSlots` do. TLS requests are counted, so that a shortfall can be
   * reported; plain HTTP beyond its share connects afresh by design, without a warning.
   */
  claim(tls: boolean): boolean {
    if (tls) this.tlsWanted++;
    else this.plainWanted++;
    const free = this.plainGranted + this.tlsGranted < this.slots && (tls || this.plainGranted < this.plainSlots);
    if (free && tls) this.tlsGranted++;
    else if (free) this.plainGranted++;
    return free;
  }

  /** A warning for the operator when some TLS probes had to go without keep-alive. */
  shortfall(): string | undefined {
    const denied = this.tlsWanted - this.tlsGranted;
    if (denied === 0) return undefined;
    const limit = openFileLimit();
    // Enough for plain HTTP's share and every TLS probe, whatever order they come in.
    const needed = limitFor(Math.min(this.plainWanted, this.plainSlots) + this.tlsWanted);
    return (
      `${denied} of ${this.tlsWanted} TLS probes open a new connection every time: the open-file limit ` +
      `(ulimit -n, now ${limit}) leaves keep-alive for ${this.tlsGranted}; raise it to at least ${needed} to keep them all`
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
