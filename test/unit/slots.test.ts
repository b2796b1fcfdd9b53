import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Slots } from '../../src/monitor/slots.js';

describe('Slots: one timer for every scheduled probe', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires each item once, at the start of the first slot at or after its due instant, in slot order', () => {
    const fired: [string, number][] = [];
    const slots = new Slots<string>(100, (item) => fired.push([item, Date.now()]));
    expect(slots.add('c', 1_000_250)).toBe(1_000_300);
    expect(slots.add('a', 1_000_001)).toBe(1_000_100);
    expect(slots.add('b', 1_000_100)).toBe(1_000_100);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(fired).toEqual([
      ['a', 1_000_100],
      ['b', 1_000_100],
      ['c', 1_000_300],
    ]);
    expect(slots.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an item placed again fires only at its new slot; a removed one never', () => {
    const fired: string[] = [];
    const slots = new Slots<string>(100, (item) => fired.push(item));
    slots.add('moved', 1_000_100);
    slots.add('moved', 1_000_500);
    slots.add('gone', 1_000_200);
    slots.remove('gone');
    vi.advanceTimersByTime(400);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['moved']);
  });

  it('an item that reschedules itself when it fires keeps its rate, one timer throughout', () => {
    const at: number[] = [];
    const slots: Slots<string> = new Slots<string>(100, (item) => {
      at.push(Date.now());
      if (at.length < 4) slots.add(item, Date.now() + 1_000);
    });
    slots.add('x', 1_000_000);
    vi.advanceTimersByTime(5_000);
    expect(at).toEqual([1_000_000, 1_001_000, 1_002_000, 1_003_000]);
  });

  it('a slot that comes late (a busy event loop) fires everything due by then, oldest first', () => {
    const fired: string[] = [];
    let now = 1_000_000;
    const slots = new Slots<string>(100, (item) => fired.push(item), () => now);
    slots.add('late', 1_000_300);
    slots.add('early', 1_000_100);
    now = 1_000_450;
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['early', 'late']);
  });

  it('clear() drops every item and the timer', () => {
    const slots = new Slots<string>(100, () => {
      throw new Error('fired after clear');
    });
    slots.add('a', 1_000_100);
    slots.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
  });

  it('refuses a slot length that is not positive', () => {
    expect(() => new Slots<string>(0, () => {})).toThrow(RangeError);
  });
});
