import { describe, expect, it } from 'vitest';
import { BufferPool, escapeLabelValue, TextBuffer } from '../../src/metrics/text-buffer.js';

/** Sample values as prom-client writes them. */
const reference = (v: number): string => (Number.isNaN(v) ? 'Nan' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v));

function written(write: (out: TextBuffer) => void, sizeHint = 1): string {
  const out = new TextBuffer(sizeHint);
  write(out);
  return out.result().toString('utf8');
}

describe('TextBuffer', () => {
  it('writes numbers as String() does, on and off the fast path for whole milliseconds', () => {
    const values = [
      0, -0, 1, -1, 0.001, 0.01, 0.1, 0.5, 0.05, 0.005, 1.25, 4.25, 2.5, 1e-3, 1e-6, 1e-7, 0.1 + 0.2, 1 / 3,
      1764446400.123, 1764446400.12, 1764446400.1, 1764446400, -1764446400.007, 2 ** 50 / 1000, 2 ** 50, 2 ** 53, 2 ** 53 + 2,
      1e15, 1e20, 1e21, 1e300, Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, NaN, Infinity, -Infinity,
    ];
    for (const ms of [2 ** 50 - 3, 2 ** 50 - 1, 2 ** 50, 2 ** 50 + 1, 999, 1000, 1001, 1764446400999]) values.push(ms / 1000, -ms / 1000);
    // Random whole milliseconds of every magnitude, and arbitrary doubles.
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(random() * 10 ** Math.floor(random() * 17));
      values.push(ms / 1000, -ms / 1000, ms, (ms + 0.5) / 1000, random() * 10 ** (Math.floor(random() * 30) - 10));
    }
    for (const v of values) expect(written((out) => out.number(v)), String(v)).toBe(reference(v));
  });

  it('escapes label values as prom-client does, ASCII or not', () => {
    for (const v of ['plain', 'a "quoted" \\ back\nslash', 'ünïcode "x"\n\\', '€', '😀 and "q"', 'x😀\n', '']) {
      expect(written((out) => out.labelValue(v))).toBe(escapeLabelValue(v));
    }
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it('grows past its size hint and keeps what it wrote', () => {
    const parts = Array.from({ length: 5000 }, (_, i) => `series ${i} ✓;`);
    const text = written((out) => {
      for (const p of parts) {
        out.utf8(p);
        out.bytes(Buffer.from('|'));
        out.byte(0x2c);
      }
    });
    expect(text).toBe(parts.map((p) => `${p}|,`).join(''));
  });

  it('takes its memory from a pool, and gives back a buffer it outgrew', () => {
    const pool = new BufferPool(2, 1024);
    const first = new TextBuffer(5000, pool);
    first.utf8('x'.repeat(12_000));
    const body = first.result();
    expect(body.toString()).toBe('x'.repeat(12_000));
    // The 5000-byte buffer it outgrew went back; the body's buffer is still the caller's.
    expect(pool.held).toEqual({ buffers: 1, bytes: 5000 });
    // 12,000 bytes of text in a buffer of 36,000 (room for 12,000 characters of 3 bytes):
    // not kept, the next text of about that size would waste two thirds of it.
    expect(body.buffer.byteLength).toBeGreaterThan(12_000 * 1.1 + 1024);
    pool.give(body);
    expect(pool.held.buffers).toBe(1);
    // A text that fills its buffer is kept (once, however often it is given), and reused.
    const full = new TextBuffer(8000, pool);
    full.bytes(Buffer.alloc(7800, 0x7a));
    const fullBody = full.result();
    pool.give(fullBody);
    pool.give(fullBody);
    expect(pool.held).toEqual({ buffers: 2, bytes: 13_000 });
    const second = new TextBuffer(6000, pool);
    second.utf8('y');
    expect(second.result().buffer).toBe(fullBody.buffer);
    expect(pool.held).toEqual({ buffers: 1, bytes: 5000 });
  });
});

describe('BufferPool', () => {
  it('keeps the largest idle buffers up to its limit, none below its minimum', () => {
    const pool = new BufferPool(1, 1000);
    // Not its own: a slice of Node's shared pool, a buffer it did not make.
    pool.give(Buffer.allocUnsafe(500));
    pool.give(Buffer.allocUnsafeSlow(8000));
    pool.give(pool.take(500));
    expect(pool.held.buffers).toBe(0);
    const [a, b] = [pool.take(4000), pool.take(8000)];
    pool.give(a);
    pool.give(b);
    expect(pool.held).toEqual({ buffers: 1, bytes: 8000 });
    expect(pool.take(9000).length).toBe(9000);
    expect(pool.held.buffers).toBe(1);
    expect(pool.take(100).length).toBe(8000);
    expect(pool.held.buffers).toBe(0);
  });

  it('drops its idle buffers once none was taken for idleMs', async () => {
    const pool = new BufferPool(2, 1000, 1000);
    const given = performance.now();
    pool.give(pool.take(4000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (performance.now() - given < 900) expect(pool.held.buffers).toBe(1);
    await expect.poll(() => pool.held.buffers, { timeout: 5000 }).toBe(0);
    expect(performance.now() - given).toBeGreaterThanOrEqual(999);
  });
});

describe('TextBuffer.handOff', () => {
  it('hands the text since the last hand-off over and goes on at the start of the next buffer', () => {
    const out = new TextBuffer(64);
    out.utf8('first');
    const next = Buffer.alloc(64, 0x23);
    const { part, buffer } = out.handOff(next);
    expect(part.toString()).toBe('first');
    expect(part.buffer).toBe(buffer.buffer);
    out.utf8('second');
    expect(out.result().toString()).toBe('second');
    expect(out.result().buffer).toBe(next.buffer);
    // The part handed over is not written over.
    expect(part.toString()).toBe('first');
  });
});
