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
 * The default of `--web.max-connections` (Prometheus' own): connections the web server
 * holds at once, each an open file the probes cannot have.
 */
export const WEB_MAX_CONNECTIONS = 512;

/**
 * Which probes may keep an idle connection open between probes: TLS ones as the open-file
 * limit allows, plain-HTTP ones up to `plainSlots` within the same limit. Each costs one
 * file descriptor for as long as the exporter runs, so keep-alive is limited to what the
 * open-file limit leaves once two things are set aside: the probes' reserve, a quarter of
 * the limit (at least 512, at most 4,096), for probes that connect afresh (up to
 * `--probe.concurrency`, 256 by default, at once) and the exporter's own files; and the
 * web server's connections (`--web.max-connections`), which it may hold all at once.
 */
export class KeepAliveBudget {
  /** Keep-alive slots in all. */
  readonly slots: number;
  /** Of them, most plain-HTTP ones. */
  readonly plainSlots: number;
  /** The web server's connection cap asked for, which the open-file figure of `shortfall` makes room for. */
  readonly webConnections: number;
  private plainWanted = 0;
  private plainGranted = 0;
  private tlsWanted = 0;
  private tlsGranted = 0;

  /**
   * @param opts.webConnections `--web.max-connections` (default WEB_MAX_CONNECTIONS)
   * @param opts.slots default: what this process's open-file limit leaves (`keepAliveSlots`)
   * @param opts.plainSlots default PLAIN_KEEP_ALIVE
   */
  constructor(opts: { readonly webConnections?: number; readonly slots?: number; readonly plainSlots?: number } = {}) {
    this.webConnections = opts.webConnections ?? WEB_MAX_CONNECTIONS;
    this.slots = opts.slots ?? keepAliveSlots(openFileLimit(), this.webConnections);
    this.plainSlots = opts.plainSlots ?? PLAIN_KEEP_ALIVE;
  }

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
    const needed = limitFor(Math.min(this.plainWanted, this.plainSlots) + this.tlsWanted, this.webConnections);
    return (
      `${denied} of ${this.tlsWanted} TLS probes open a new connection every time: the open-file limit ` +
      `(ulimit -n, now ${limit}) leaves keep-alive for ${this.tlsGranted}; raise it to at least ${needed} to keep them all`
    );
  }
}

/** What the probes keep back of `limit`: a quarter, at least 512, at most 4,096. */
export function probeReserve(limit: number): number {
  return Math.min(4096, Math.max(512, Math.floor(limit / 4)));
}

/**
 * Connections the probes may keep alive under an open-file limit of `limit` once the
 * probes' reserve and `webConnections` (the web server's cap, default WEB_MAX_CONNECTIONS)
 * are set aside; 0 when nothing is left.
 */
export function keepAliveSlots(limit: number, webConnections: number = WEB_MAX_CONNECTIONS): number {
  return Math.max(0, limit - probeReserve(limit) - webConnections);
}

/** The smallest open-file limit that leaves `slots` keep-alive slots beside `webConnections` web connections. */
export function limitFor(slots: number, webConnections: number = WEB_MAX_CONNECTIONS): number {
  // At most 4,096 steps: the reserve lies between 512 and 4,096.
  let limit = slots + webConnections + 512;
  while (keepAliveSlots(limit, webConnections) < slots) limit++;
  return limit;
}

/** The least `--web.max-connections` can be lowered to for want of open files. */
const MIN_WEB_CONNECTIONS = 16;

/**
 * The web server's connection cap under the open-file limit, so that it and the probes'
 * reserve fit together: `requested` when they fit. An `explicit` value (given on the command
 * line) that does not fit is an error; the default is lowered to what fits, with a warning.
 * @param requested `--web.max-connections`, a positive integer
 * @throws Error naming `--web.max-connections`, `--probe.concurrency`'s reserve and the limit,
 * when an explicit value does not fit, or when not even MIN_WEB_CONNECTIONS (16) would.
 */
export function webConnectionCap(requested: number, explicit: boolean, limit: number = openFileLimit()): { readonly cap: number; readonly warning?: string } {
  const reserve = probeReserve(limit);
  if (requested + reserve <= limit) return { cap: requested };
  const room = limit - reserve;
  const why =
    `the open-file limit (ulimit -n, now ${limit}) less what the probes keep back (${reserve}, for connections up to ` +
    `--probe.concurrency and the exporter's own files) leaves ${Math.max(0, room)} for the web server`;
  const raise = `raise the limit to at least ${requested + reserve}`;
  if (explicit || room < MIN_WEB_CONNECTIONS) {
    throw new Error(
      `--web.max-connections=${requested} does not fit: ${why}; ` +
        (room >= MIN_WEB_CONNECTIONS ? `lower --web.max-connections to at most ${room}, or ${raise}` : raise),
    );
  }
  return { cap: room, warning: `--web.max-connections lowered from ${requested} to ${room}: ${why}; ${raise} to serve ${requested}` };
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
