/**
 * Large buffers kept for reuse. A new buffer of 35 MB (a scrape of 30,000 components) costs
 * more than writing the text into it: every page is faulted in and zeroed by the kernel,
 * and V8 counts it as external memory, which brings on full garbage collections. A buffer
 * goes back with `give` only once nothing reads it any more (the response is sent).
 */
export class BufferPool {
  private readonly idle: ArrayBuffer[] = [];
  /** Memory this pool handed out: the only memory it takes back. */
  private readonly mine = new WeakSet<ArrayBufferLike>();

  /** Drops the idle buffers once none has been taken for `idleMs`. */
  private dropTimer?: NodeJS.Timeout;

  /**
   * `keep`: idle buffers kept at most (the largest); `minBytes`: smaller ones are not worth
   * keeping; `idleMs`: how long idle buffers are kept without a `take` (default: for ever).
   */
  constructor(
    private readonly keep = 1,
    private readonly minBytes = 1 << 20,
    private readonly idleMs = Infinity,
  ) {}

  /** A buffer of at least `bytes` bytes (its content is garbage): an idle one if one is large enough, else a new one. */
  take(bytes: number): Buffer {
    const i = this.idle.findIndex((b) => b.byteLength >= bytes);
    if (i < 0) {
      // Slow: its own memory, never a slice of Node's shared pool for small buffers.
      const b = Buffer.allocUnsafeSlow(bytes);
      this.mine.add(b.buffer);
      return b;
    }
    const [b] = this.idle.splice(i, 1);
    return Buffer.from(b!);
  }

  /**
   * Returns the memory under `body` (a buffer from `take`, or a view of one) for reuse. The
   * caller vouches that nothing reads it any more. Memory the pool did not hand out, and a
   * buffer given twice, are ignored; so is a buffer more than a tenth (and `minBytes`)
   * larger than the text it held, which the next text of about that size would waste (the
   * first scrape's buffer is a guess: 46 MB for 41 MB of text at 30,000 components).
   */
  give(body: Buffer): void {
    const b = body.buffer;
    if (!(b instanceof ArrayBuffer) || !this.mine.has(b) || b.byteLength < this.minBytes || this.idle.includes(b)) return;
    if (b.byteLength > body.byteLength * 1.1 + this.minBytes) return;
    this.idle.push(b);
    this.idle.sort((x, y) => y.byteLength - x.byteLength);
    this.idle.length = Math.min(this.idle.length, this.keep);
    if (this.idleMs === Infinity) return;
    clearTimeout(this.dropTimer);
    this.dropTimer = setTimeout(() => (this.idle.length = 0), this.idleMs);
    this.dropTimer.unref();
  }

  /** Idle buffers held, and their bytes. */
  get held(): { buffers: number; bytes: number } {
    return { buffers: this.idle.length, bytes: this.idle.reduce((n, b) => n + b.byteLength, 0) };
  }
}

/**
 * A growable byte buffer for the exposition text: label sets are copied in as bytes made
 * once per configuration, label values and numbers are written a character at a time, so a
 * scrape builds no string per series and encodes no text twice.
 */
export class TextBuffer {
  private buf: Buffer;
  /** Bytes written so far. */
  pos = 0;

  /**
   * `sizeHint`: bytes to reserve at first (the size of the previous rendering is a good
   * guess); `pool`: where the memory comes from, and where an outgrown buffer goes back.
   */
  constructor(
    sizeHint: number,
    private readonly pool?: BufferPool,
  ) {
    const size = Math.max(4096, Math.ceil(sizeHint));
    this.buf = pool ? pool.take(size) : Buffer.allocUnsafe(size);
  }

  /**
   * Makes room for `n` more bytes: grows the buffer by half at least, so growth costs
   * O(total) and a scrape a little larger than the last (a reload added servers) does not
   * take twice the memory, which the pool would then keep.
   */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const size = Math.max(Math.ceil(this.buf.length * 1.5), this.pos + n);
    const next = this.pool ? this.pool.take(size) : Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    // No view of it went out: views go out only as `result` (once the writing is done) or
    // with `handOff`, which moves the writer to another buffer.
    this.pool?.give(this.buf);
    this.buf = next;
  }

  /** Copies `src` (one `set()`: for the 60 bytes of a label set, 3 times faster than a loop). */
  bytes(src: Uint8Array): void {
    this.reserve(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** Writes one byte (an ASCII character code). */
  byte(c: number): void {
    this.reserve(1);
    this.buf[this.pos++] = c;
  }

  /**
   * Writes `s` as a label value, escaped as prom-client does (backslash, newline and double
   * quote), in UTF-8.
   */
  labelValue(s: string): void {
    const n = s.length;
    // Escaping at most doubles a character; a UTF-16 code unit takes at most 3 bytes.
    this.reserve(n * 3);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // Rare (names and versions are ASCII): the rest goes through the encoder.
        this.pos = p;
        this.utf8(escapeLabelValue(s.slice(i)));
        return;
      }
      if (c === 0x5c || c === 0x22) {
        buf[p++] = 0x5c;
        buf[p++] = c;
      } else if (c === 0x0a) {
        buf[p++] = 0x5c;
        buf[p++] = 0x6e;
      } else {
        buf[p++] = c;
      }
    }
    this.pos = p;
  }

  /** Writes `s` in UTF-8 as it is. */
  utf8(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /**
   * Writes a sample value as prom-client does (`String(v)`, with `Nan`, `+Inf`, `-Inf`).
   * Whole milliseconds in seconds (timestamps, ages, configured durations) and integers are
   * written digit by digit, which gives the same text: the double nearest to k/1000 has the
   * decimal k/1000 as its shortest round-trip form while doubles are denser than 0.001, far
   * beyond 2^50 ms. Other values go through `String()`.
   */
  number(v: number): void {
    this.reserve(32);
    const ms = Math.round(v * 1000);
    if (ms / 1000 !== v || ms >= MAX_MS || ms <= -MAX_MS) {
      this.ascii(Number.isNaN(v) ? 'Nan' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));
      return;
    }
    const buf = this.buf;
    let m = ms;
    if (m < 0) {
      buf[this.pos++] = 0x2d;
      m = -m;
    }
    const frac = m % 1000;
    this.digits((m - frac) / 1000);
    if (frac === 0) return;
    let p = this.pos;
    buf[p++] = 0x2e;
    const d1 = Math.floor(frac / 100);
    const d2 = Math.floor(frac / 10) % 10;
    const d3 = frac % 10;
    buf[p++] = 0x30 + d1;
    if (d2 !== 0 || d3 !== 0) buf[p++] = 0x30 + d2;
    if (d3 !== 0) buf[p++] = 0x30 + d3;
    this.pos = p;
  }

  /**
   * The text written since the last hand-off (`part`, a view of `buffer`, no copy), and
   * writing goes on at the start of `next`. The caller sees to it that nothing reads `next`
   * any more; `buffer` is the caller's from now on.
   */
  handOff(next: Buffer): { part: Buffer; buffer: Buffer } {
    const buffer = this.buf;
    const part = buffer.subarray(0, this.pos);
    this.buf = next;
    this.pos = 0;
    return { part, buffer };
  }

  /** Gives the buffer back to the pool: nothing may read the text any more. */
  release(): void {
    this.pool?.give(this.buf);
  }

  /** The text written, as a view of the buffer (no copy). */
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** A non-negative integer below 2^53, in decimal. */
  private digits(n: number): void {
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = 0x30 + n;
      return;
    }
    let len = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
    let p = this.pos + len;
    this.pos = p;
    do {
      const q = Math.floor(n / 10);
      buf[--p] = 0x30 + (n - q * 10);
      n = q;
    } while (n > 0);
  }

  /** A string known to be ASCII (a formatted number). */
  private ascii(s: string): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }
}

/** |ms| below this is written digit by digit (see `number`). */
const MAX_MS = 2 ** 50;

const NEEDS_ESCAPE = /[\\\n"]/;

/** A label value as prom-client writes it: backslash, newline and double quote escaped. */
export function escapeLabelValue(v: string): string {
  return NEEDS_ESCAPE.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}
