/**
 * One timer for every scheduled probe: due instants are rounded up to slots of `slotMs`,
 * and everything due in a slot fires together. A process that probes 20 endpoints a second
 * then wakes at most 1,000 / slotMs times a second (10 for the monitor's 100 ms) instead of
 * 20, and 30,000 endpoints cost one timer, not
 * 30,000 (each a Timeout object and a place in Node's timer lists).
 */
export class Slots<T> {
  /** Items by slot number (instant / slotMs). */
  private readonly slots = new Map<number, T[]>();
  /** Where each item is placed: an item moved or removed is skipped in its old slot. */
  private readonly placed = new Map<T, number>();
  /** Slot numbers that hold items, as a binary min-heap. */
  private readonly heap: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  /**
   * @param slotMs slot length in milliseconds (> 0)
   * @param fire called once per item when its slot comes, oldest slot first
   * @param clock the time in milliseconds since the epoch
   */
  constructor(
    readonly slotMs: number,
    private readonly fire: (item: T) => void,
    private readonly clock: () => number = Date.now,
  ) {
    if (!(slotMs > 0)) throw new RangeError('slotMs must be positive');
  }

  /**
   * Places `item` in the first slot at or after `dueMs` (ms since the epoch), replacing any
   * earlier placement. Returns the instant it will fire at (the slot's start, ms).
   */
  add(item: T, dueMs: number): number {
    const slot = Math.ceil(dueMs / this.slotMs);
    this.placed.set(item, slot);
    let bucket = this.slots.get(slot);
    if (!bucket) {
      this.slots.set(slot, (bucket = []));
      this.push(slot);
    }
    bucket.push(item);
    this.arm();
    return slot * this.slotMs;
  }

  /** Takes `item` out of its slot, if it has one. */
  remove(item: T): void {
    this.placed.delete(item);
  }

  /** Removes every item and stops the timer. */
  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
    this.slots.clear();
    this.placed.clear();
    this.heap.length = 0;
  }

  /** Items placed now. */
  get size(): number {
    return this.placed.size;
  }

  private arm(): void {
    const next = this.heap[0];
    if (next === undefined || next >= this.armedFor) return;
    clearTimeout(this.timer);
    this.armedFor = next;
    this.timer = setTimeout(() => this.turn(), Math.max(0, next * this.slotMs - this.clock()));
  }

  private turn(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Math.floor(this.clock() / this.slotMs);
    while (this.heap.length > 0 && this.heap[0]! <= now) {
      const slot = this.pop();
      const bucket = this.slots.get(slot)!;
      this.slots.delete(slot);
      for (const item of bucket) {
        if (this.placed.get(item) !== slot) continue;
        this.placed.delete(item);
        this.fire(item);
      }
    }
    this.arm();
  }

  private push(slot: number): void {
    const h = this.heap;
    h.push(slot);
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= slot) break;
      h[i] = h[parent]!;
      h[parent] = slot;
      i = parent;
    }
  }

  private pop(): number {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]! < h[m]!) m = l;
        if (r < h.length && h[r]! < h[m]!) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
