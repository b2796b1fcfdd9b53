import type { ClusterEvent } from '../evaluate/events.js';

/** Events kept per cluster, and for the exporter's own (start, reloads). */
export const EVENTS_PER_CLUSTER = 100;

/** A fixed-size ring of events, each with its place in the log's order. */
class Ring {
  private readonly items: (ClusterEvent | undefined)[];
  private readonly order: number[];
  private next = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<ClusterEvent | undefined>(capacity);
    this.order = new Array<number>(capacity).fill(0);
  }

  push(e: ClusterEvent, n: number): void {
    this.items[this.next] = e;
    this.order[this.next] = n;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first, while `keep` holds (events are in time order, so it stops at the first miss). */
  *newest(keep: (e: ClusterEvent) => boolean = () => true): Generator<[number, ClusterEvent]> {
    for (let k = 1; k <= this.capacity; k++) {
      const i = (this.next - k + this.capacity) % this.capacity;
      const e = this.items[i];
      if (!e || !keep(e)) return;
      yield [this.order[i]!, e];
    }
  }
}

/**
 * The recent events, like a console's server log: a bounded ring per cluster (a noisy
 * cluster cannot push another's history out) and one for the exporter's own events.
 * In memory only: a restart starts empty; the logs and Prometheus keep the history.
 */
export class EventLog {
  private readonly rings = new Map<string | null, Ring>();
  private added = 0;

  constructor(private readonly capacity = EVENTS_PER_CLUSTER) {}

  add(e: ClusterEvent): void {
    let ring = this.rings.get(e.cluster);
    if (!ring) this.rings.set(e.cluster, (ring = new Ring(this.capacity)));
    ring.push(e, ++this.added);
  }

  /** The newest `limit` events of one cluster (null: the exporter's own), newest first. */
  latest(cluster: string | null, limit: number): ClusterEvent[] {
    const out: ClusterEvent[] = [];
    const ring = this.rings.get(cluster);
    if (!ring) return out;
    for (const [, e] of ring.newest()) {
      if (out.length >= limit) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Events after `sinceSeconds` (exclusive; all when undefined), of one cluster or of all
   * (the exporter's own included), newest first, at most `limit`. Events of one round share
   * their time, so a client that asks again with the newest time it has misses none.
   */
  query(opts: { sinceSeconds?: number; cluster?: string; limit: number }): ClusterEvent[] {
    const after = opts.sinceSeconds ?? -Infinity;
    const rings = opts.cluster === undefined ? [...this.rings.values()] : [this.rings.get(opts.cluster)].filter((r): r is Ring => r !== undefined);
    const all: [number, ClusterEvent][] = [];
    for (const ring of rings) for (const entry of ring.newest((e) => e.time > after)) all.push(entry);
    return all
      .sort((a, b) => b[0] - a[0])
      .slice(0, opts.limit)
      .map(([, e]) => e);
  }

  /** Forgets the clusters no longer configured. */
  retain(clusters: ReadonlySet<string>): void {
    for (const name of this.rings.keys()) if (name !== null && !clusters.has(name)) this.rings.delete(name);
  }
}
