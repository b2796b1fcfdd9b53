import { describe, expect, it } from 'vitest';
import { KeepAliveBudget, keepAliveSlots } from '../../src/probes/fd-budget.js';

describe('keep-alive budget', () => {
  it('keeps a quarter of the open-file limit back, and at least 256', () => {
    expect(keepAliveSlots(1_048_576)).toBe(786_432);
    expect(keepAliveSlots(20_000)).toBe(15_000);
    expect(keepAliveSlots(600)).toBe(344);
    expect(keepAliveSlots(200)).toBe(0);
  });

  it('grants slots until they run out and reports the shortfall', () => {
    const budget = new KeepAliveBudget(2);
    expect([budget.claim(), budget.claim()]).toEqual([true, true]);
    expect(budget.shortfall()).toBeUndefined();
    expect([budget.claim(), budget.claim(), budget.claim()]).toEqual([false, false, false]);
    expect(budget.shortfall()).toMatch(/^3 of 5 probes open a new connection every time: the open-file limit \(ulimit -n, now \d+\) leaves keep-alive for 2; raise it to at least 261/);
  });
});
