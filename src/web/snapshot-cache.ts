import type { Snapshot } from '../evaluate/snapshot.js';

export type Render = (snapshot: Snapshot) => Promise<Buffer> | Buffer;

interface Entry {
  readonly at: number;
  readonly version: unknown;
  readonly snapshot: Snapshot;
  readonly renderings: Map<string, Promise<Buffer>>;
}

/**
 * One judgement of the cluster shared by every request for up to `maxAgeMs`, and one
 * rendering of it per format however many clients ask: a hundred clients scraping
 * `/metrics` and `/api/v1/status` back to back cost what one client does, so they cannot
 * starve the probes of CPU. A change of `version()` (the monitor's next round, a reload)
 * starts afresh at once, and all formats are rendered from the same snapshot, so they
 * agree with each other and with the events of that round.
 */
export class SnapshotCache {
  private entry?: Entry;

  constructor(
    private readonly take: () => Snapshot,
    private readonly version: () => unknown,
    private readonly maxAgeMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  snapshot(): Snapshot {
    return this.fresh().snapshot;
  }

  /** `render` of the current snapshot, made once per snapshot and format. */
  rendering(format: string, render: Render): Promise<Buffer> {
    return this.renderIn(this.fresh(), format, render);
  }

  /**
   * `transform` of the `format` rendering (such as its gzip), both made once per snapshot
   * and from the same one.
   */
  derived(format: string, render: Render, name: string, transform: (body: Buffer) => Promise<Buffer>): Promise<Buffer> {
    const entry = this.fresh();
    return this.renderIn(entry, `${format}+${name}`, async () => transform(await this.renderIn(entry, format, render)));
  }

  private renderIn(entry: Entry, format: string, render: Render): Promise<Buffer> {
    let body = entry.renderings.get(format);
    if (!body) {
      body = Promise.resolve(entry.snapshot).then(render);
      entry.renderings.set(format, body);
      // A failed rendering is not kept: the next request tries again.
      body.catch(() => entry.renderings.delete(format));
    }
    return body;
  }

  private fresh(): Entry {
    const now = this.clock();
    const version = this.version();
    const e = this.entry;
    if (e && e.version === version && now - e.at < this.maxAgeMs) return e;
    const entry: Entry = { at: now, version, snapshot: this.take(), renderings: new Map() };
    if (this.maxAgeMs > 0) {
      this.entry = entry;
      // Not kept past its age while nobody asks: at 30,000 components it holds tens of MB.
      setTimeout(() => {
        if (this.entry === entry) this.entry = undefined;
      }, this.maxAgeMs).unref();
    }
    return entry;
  }
}
