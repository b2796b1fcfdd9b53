import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseSize } from '../../src/config/units.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['15s', 15_000],
    ['1m30s', 90_000],
    ['24h', 86_400_000],
    ['2d', 172_800_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '15', 's', '1.5s', '-1s', '15 s', '1y'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('formats back', () => {
    expect([formatDuration(90_000), formatDuration(3_600_000), formatDuration(250)]).toEqual(['90s', '1h', '250ms']);
  });
});

describe('sizes', () => {
  it('parses units', () => {
    expect([parseSize('1MiB'), parseSize('512KB'), parseSize('1000'), parseSize('1GiB')]).toEqual([
      1_048_576, 512_000, 1000, 1_073_741_824,
    ]);
    expect(parseSize('1.5MiB')).toBeUndefined();
    expect(parseSize('lots')).toBeUndefined();
  });
});
