import { describe, expect, it } from 'vitest';
import { escapeLabelValue, TextBuffer } from '../../src/metrics/text-buffer.js';

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
});

describe('TextBuffer.handOff', () => {
  it('hands the text since the last hand-off over and goes on at the start of the next buffer', () => {
    const out = new TextBuffer(64);
    out.utf8('first');
    const next = Buffer.alloc(64, 0x23);
    const part = out.handOff(next);
    expect(part.toString()).toBe('first');
    expect(part.buffer).not.toBe(next.buffer);
    out.utf8('second');
    expect(out.result().toString()).toBe('second');
    expect(out.result().buffer).toBe(next.buffer);
    // The part handed over is not written over.
    expect(part.toString()).toBe('first');
  });
});
