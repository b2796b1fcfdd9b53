import { randomBytes } from 'node:crypto';
import type { ClusterEvent } from '../evaluate/events.js';

/** Events kept per cluster, and for the exporter's own (start, reloads). */
export const EVENTS_PER_CLUSTER = 100;

/** An event as the log keeps it: with its place in the log's order, 1, 2, 3, ... from the start. */
export type LoggedEvent = ClusterEvent & {
  /** The event's sequence number: one log counts every cluster's events, so it orders them all. */
  readonly seq: number;
};

/** What `/api/v1/events` asks the log. */
export interface EventQuery {
  /** A `next` of an earlier answer: only the events after it. Absent: from the oldest kept. */
  readonly after?: string;
  /** One cluster's events; absent: every cluster's and the exporter's own. */
  readonly cluster?: string;
  /** Most events in the answer. */
  readonly limit: number;
}

/** One answer of the log, oldest first. */
export interface EventPage {
  readonly events: readonly LoggedEvent[];
  /** The cursor to ask with next time: after the last event answered (or where the asker was). */
  readonly next: string;
  /** True when more events follow these: ask again at once with `next`. */
  readonly more: boolean;
  /**
   * True when events after the asker's cursor are no longer kept (a ring made room for
   * newer ones, a reload removed their cluster, or the exporter restarted since the cursor
   * was given): some were missed.
   */
  readonly missed: boolean;
}

/** A fixed-size ring of events, and the sequence number of the last it let go. */
class Ring {
  private readonly items: (LoggedEvent | undefined)[];
  private next = 0;
  /** The newest sequence number overwritten (0: none yet). */
  dropped = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<LoggedEvent | undefined>(capacity);
  }

  push(e: LoggedEvent): void {
    const old = this.items[this.next];
    if (old) this.dropped = old.seq;
    this.items[this.next] = e;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first, while `keep` holds (events are in order, so it stops at the first miss). */
  *newest(keep: (e: LoggedEvent) => boolean = () => true): Generator<LoggedEvent> {
    for (let k = 1; k <= this.capacity; k++) {
      const e = this.items[(this.next - k + this.capacity) % this.capacity];
      if (!e || !keep(e)) return;
      yield e;
    }
  }
}

/** The form of a cursor (`next`), for the API to refuse anything else with a reason. */
export const CURSOR = /^([0-9a-f]{8})-(\d{1,15})$/;

/** The result of `EventLog.query` for a cluster that is not configured. */
export const UNKNOWN_CLUSTER = Symbol('unknown cluster');

/**
 * The recent events, like a console's server log: a bounded ring per cluster (a noisy
 * cluster cannot push another's history out) and one for the exporter's own events.
 * Every event gets the next sequence number, and a cursor (`run-seq`, where `run` is
 * drawn at random when the log is made) lets a poller take them oldest first, a page at
 * a time, and know when it missed some. In memory only: a restart starts empty; the logs
 * and Prometheus keep the history.
 */
export class EventLog {
  private readonly rings = new Map<string | null, Ring>();
  private added = 0;
  /** Tells this log's cursors from an earlier run's: sequence numbers start again at 1. */
  private readonly run = randomBytes(4).toString('hex');
  /** The configured clusters, once `retain` has been told them. */
  private known?: ReadonlySet<string>;
  /** The newest sequence number of a cluster no longer configured (0: none), whose events went with it. */
  private forgotten = 0;

  constructor(private readonly capacity = EVENTS_PER_CLUSTER) {}

  add(e: ClusterEvent): void {
    let ring = this.rings.get(e.cluster);
    if (!ring) this.rings.set(e.cluster, (ring = new Ring(this.capacity)));
    ring.push({ ...e, seq: ++this.added });
  }

  /** The newest `limit` events of one cluster (null: the exporter's own), newest first. */
  latest(cluster: string | null, limit: number): LoggedEvent[] {
    const out: LoggedEvent[] = [];
    const ring = this.rings.get(cluster);
    if (!ring) return out;
    for (const e of ring.newest()) {
      if (out.length >= limit) break;
      out.push(e);
    }
    return out;
  }

  /**
   * The oldest `limit` events after the cursor `after`, of one cluster or of all (the
   * exporter's own included), oldest first. A cursor of another run (the exporter
   * restarted) or not of this form counts as none, with `missed` set. Returns
   * UNKNOWN_CLUSTER for a cluster that is not configured.
   */
  query(opts: EventQuery): EventPage | typeof UNKNOWN_CLUSTER {
    if (opts.cluster !== undefined && this.known && !this.known.has(opts.cluster)) return UNKNOWN_CLUSTER;
    const cursor = opts.after === undefined ? 0 : this.seqOf(opts.after);
    const from = cursor ?? 0;
    const rings = opts.cluster === undefined ? [...this.rings.values()] : [this.rings.get(opts.cluster)].filter((r): r is Ring => r !== undefined);
    const after: LoggedEvent[] = [];
    for (const ring of rings) for (const e of ring.newest((x) => x.seq > from)) after.push(e);
    after.sort((a, b) => a.seq - b.seq);
    const page = after.slice(0, opts.limit);
    return {
      events: page,
      // With nothing to answer, the cursor moves to the newest event of any cluster: none of
      // those after `from` belongs to the asked ones, and the next of theirs will be later.
      next: `${this.run}-${page.at(-1)?.seq ?? this.added}`,
      more: after.length > page.length,
      missed: (opts.after !== undefined && cursor === undefined) || rings.some((r) => r.dropped > from) || (opts.cluster === undefined && this.forgotten > from),
    };
  }

  /** The sequence number in a cursor of this run; undefined for another run's or a malformed one. */
  private seqOf(cursor: string): number | undefined {
    const m = CURSOR.exec(cursor);
    if (!m || m[1] !== this.run || Number(m[2]) > this.added) return undefined;
    return Number(m[2]);
  }

  /** Forgets the clusters no longer configured, and answers for the configured ones only. */
  retain(clusters: ReadonlySet<string>): void {
    this.known = clusters;
    for (const [name, ring] of this.rings) {
      if (name === null || clusters.has(name)) continue;
      for (const e of ring.newest()) this.forgotten = Math.max(this.forgotten, e.seq);
      this.rings.delete(name);
    }
  }
}
