/** Renders a snapshot in one format. */
export type Render<S> = (snapshot: S) => Promise<Buffer> | Buffer;
/** Takes back a rendering's memory once nothing reads it (see `SnapshotCache.use`). */
export type Recycle = (body: Buffer) => void;

/** One format's rendering of an entry's snapshot, and who reads it. */
interface Slot {
  readonly format: string;
  readonly body: Promise<Buffer>;
  /** `use` calls running on it. */
  users: number;
  /** Some use ended unsure whether the body is still read: never recycled. */
  kept: boolean;
  /** Cleared once called. */
  recycle: Recycle | undefined;
}

interface Entry<S> {
  readonly at: number;
  readonly version: unknown;
  readonly snapshot: S;
  readonly slots: Map<string, Slot>;
  /** How often `claim` answered true, by key. */
  readonly claimed: Map<string, number>;
  /** No longer handed to new requests: its renderings go back once their uses end. */
  retired: boolean;
}

/**
 * One judgement of the cluster shared by every request for up to `maxAgeMs`, and one
 * rendering of it per format however many clients ask: a hundred clients scraping
 * `/metrics` and `/api/v1/status` back to back cost what one client does, so they cannot
 * starve the probes of CPU. A change of `version()` (the monitor's next round, a reload)
 * starts afresh at once, and all formats are rendered from the same snapshot, so they
 * agree with each other and with the events of that round.
 *
 * A rendering read through `use` can give its memory back (`recycle`) once its snapshot is
 * no longer shared and every use has ended, so the next scrape writes into the same buffer.
 */
export class SnapshotCache<S> {
  private entry?: Entry<S>;

  constructor(
    private readonly take: () => S,
    private readonly version: () => unknown,
    private readonly maxAgeMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  snapshot(): S {
    return this.fresh().snapshot;
  }

  /** True when the current snapshot's `format` rendering has been asked for (under way or done). */
  rendered(format: string): boolean {
    return this.fresh().slots.has(format);
  }

  /**
   * True the first `times` times `key` is asked for the current snapshot, false after: for
   * renderings made outside the cache, a few per snapshot.
   */
  claim(key: string, times = 1): boolean {
    const entry = this.fresh();
    const n = entry.claimed.get(key) ?? 0;
    if (n >= times) return false;
    entry.claimed.set(key, n + 1);
    return true;
  }

  /**
   * Runs `use` on the `render` of the current snapshot (made once per snapshot and format)
   * and returns what it returns. `use` must settle only when nothing reads the body any more
   * (for a response: once it is sent), and throw when it cannot tell (the client went
   * away mid-send). Once the snapshot is no longer shared and no use of it runs, the body
   * goes to `recycle`, unless some use threw. The first call for a snapshot and format sets
   * its `recycle`; later calls wait for the same body.
   */
  use<T>(format: string, render: Render<S>, use: (body: Buffer) => Promise<T>, recycle?: Recycle): Promise<T> {
    return this.useIn(this.fresh(), format, render, use, recycle);
  }

  /**
   * `transform` of the `format` rendering (such as its gzip), both made once per snapshot
   * and from the same one. The plain rendering is in use (see `use`) while it is transformed.
   */
  derived(format: string, render: Render<S>, name: string, transform: (body: Buffer) => Promise<Buffer>, recycle?: Recycle): Promise<Buffer> {
    const entry = this.fresh();
    return this.slot(entry, `${format}+${name}`, () => this.useIn(entry, format, render, transform, recycle), undefined).body;
  }

  private async useIn<T>(
    entry: Entry<S>,
    format: string,
    render: Render<S>,
    use: (body: Buffer) => Promise<T>,
    recycle: Recycle | undefined,
  ): Promise<T> {
    const slot = this.slot(entry, format, render, recycle);
    slot.users++;
    let ended = false;
    try {
      const result = await use(await slot.body);
      ended = true;
      return result;
    } finally {
      if (!ended) slot.kept = true;
      slot.users--;
      this.release(entry, slot);
    }
  }

  private slot(entry: Entry<S>, format: string, render: Render<S>, recycle: Recycle | undefined): Slot {
    let slot = entry.slots.get(format);
    if (!slot) {
      const body = Promise.resolve(entry.snapshot).then((snapshot) => render(snapshot));
      const made: Slot = { format, body, users: 0, kept: false, recycle };
      entry.slots.set(format, made);
      // A failed rendering is not kept: the next request tries again.
      body.catch(() => {
        if (entry.slots.get(format) === made) entry.slots.delete(format);
      });
      slot = made;
    }
    return slot;
  }

  /** Recycles the slot's body once its entry is retired and nobody reads it. */
  private release(entry: Entry<S>, slot: Slot): void {
    const recycle = slot.recycle;
    if (!entry.retired || slot.users > 0 || slot.kept || !recycle) return;
    slot.recycle = undefined;
    // Whoever still comes for this snapshot (a derived rendering scheduled before it was
    // retired) renders it anew rather than read recycled memory.
    if (entry.slots.get(slot.format) === slot) entry.slots.delete(slot.format);
    slot.body.then(recycle, () => undefined);
  }

  private retire(entry: Entry<S>): void {
    entry.retired = true;
    for (const slot of entry.slots.values()) this.release(entry, slot);
  }

  private fresh(): Entry<S> {
    const now = this.clock();
    const version = this.version();
    const e = this.entry;
    if (e && e.version === version && now - e.at < this.maxAgeMs) return e;
    // Not shared: retired from the start, so its renderings go back when their one request ends.
    const entry: Entry<S> = { at: now, version, snapshot: this.take(), slots: new Map(), claimed: new Map(), retired: this.maxAgeMs <= 0 };
    if (this.maxAgeMs > 0) {
      if (e) this.retire(e);
      this.entry = entry;
      // Not kept past its age while nobody asks: at 30,000 components it holds tens of MB.
      setTimeout(() => {
        if (this.entry !== entry) return;
        this.entry = undefined;
        this.retire(entry);
      }, this.maxAgeMs).unref();
    }
    return entry;
  }
}
