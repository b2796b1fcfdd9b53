import { describe, expect, it } from 'vitest';
import { KeepAliveBudget, keepAliveSlots, limitFor } from '../../src/probes/fd-budget.js';

describe('keep-alive budget', () => {
  it('keeps a quarter of the open-file limit back, at least 512 and at most 4,096', () => {
    expect(keepAliveSlots(1_048_576)).toBe(1_044_480);
    expect(keepAliveSlots(20_000)).toBe(15_904);
    expect(keepAliveSlots(4_000)).toBe(3_000);
    expect(keepAliveSlots(1_024)).toBe(512);
    expect(keepAliveSlots(600)).toBe(88);
    expect(keepAliveSlots(400)).toBe(0);
  });

  it('names the smallest limit that would keep every probe alive', () => {
    for (const slots of [1, 500, 1_535, 1_536, 1_537, 3_000, 12_287, 12_288, 12_289, 30_000]) {
      const limit = limitFor(slots);
      expect(keepAliveSlots(limit)).toBeGreaterThanOrEqual(slots);
      expect(keepAliveSlots(limit - 1)).toBeLessThan(slots);
    }
    expect(limitFor(30_000)).toBe(34_096);
  });

  it('grants slots until they run out and reports the shortfall', () => {
    const budget = new KeepAliveBudget(2);
    expect([budget.claim(true), budget.claim(true)]).toEqual([true, true]);
    expect(budget.shortfall()).toBeUndefined();
    expect([budget.claim(true), budget.claim(true), budget.claim(true)]).toEqual([false, false, false]);
    expect(budget.shortfall()).toMatch(/^3 of 5 TLS probes open a new connection every time: the open-file limit \(ulimit -n, now \d+\) leaves keep-alive for 2; raise it to at least 517/);
  });

  it('keeps plain-HTTP connections up to their own bound, within the same slots, without a warning', () => {
    const budget = new KeepAliveBudget(4, 2);
    expect([budget.claim(false), budget.claim(false), budget.claim(false)]).toEqual([true, true, false]);
    expect(budget.shortfall()).toBeUndefined();
    // TLS takes what plain HTTP left.
    expect([budget.claim(true), budget.claim(true), budget.claim(true)]).toEqual([true, true, false]);
    expect(budget.shortfall()).toMatch(/^1 of 3 TLS probes open a new connection every time: .* leaves keep-alive for 2; raise it to at least 517/);
  });

  it('names a limit that keeps every TLS probe alive even when plain HTTP came first', () => {
    // Slots for 4: plain HTTP takes its 3, TLS gets 1 of 3. Raising the limit by only the 2
    // refused would leave plain HTTP taking 3 of 6 and TLS again short: 3 + 3 are needed.
    const budget = new KeepAliveBudget(4, 3);
    for (let i = 0; i < 5; i++) budget.claim(false);
    expect([budget.claim(true), budget.claim(true), budget.claim(true)]).toEqual([true, false, false]);
    expect(budget.shortfall()).toMatch(/^2 of 3 TLS probes .* leaves keep-alive for 1; raise it to at least 518 /);
    expect(keepAliveSlots(518)).toBe(6);
  });
});
