import { describe, expect, it } from 'vitest';
import { KeepAliveBudget, keepAliveSlots, limitFor, openFileLimit, probeReserve, WEB_MAX_CONNECTIONS, webConnectionCap } from '../../src/probes/fd-budget.js';

describe('keep-alive budget', () => {
  it('keeps a quarter of the open-file limit back for the probes, at least 512 and at most 4,096', () => {
    expect([1_048_576, 20_000, 4_000, 1_024, 600, 400].map(probeReserve)).toEqual([4_096, 4_096, 1_000, 512, 512, 512]);
    expect(keepAliveSlots(1_048_576, 0)).toBe(1_044_480);
    expect(keepAliveSlots(20_000, 0)).toBe(15_904);
    expect(keepAliveSlots(4_000, 0)).toBe(3_000);
    expect(keepAliveSlots(1_024, 0)).toBe(512);
    expect(keepAliveSlots(600, 0)).toBe(88);
    expect(keepAliveSlots(400, 0)).toBe(0);
  });

  it("sets the web server's connections aside too: by default --web.max-connections' 512", () => {
    expect(WEB_MAX_CONNECTIONS).toBe(512);
    expect(keepAliveSlots(1_048_576)).toBe(1_043_968);
    expect(keepAliveSlots(20_000)).toBe(15_392);
    expect(keepAliveSlots(20_000, 2_000)).toBe(13_904);
    expect(keepAliveSlots(4_000)).toBe(2_488);
    expect(keepAliveSlots(1_024)).toBe(0);
    expect(keepAliveSlots(2_000, 100)).toBe(1_388);
    // Keep-alive, the probes' reserve and the web's cap add up to the limit, never more.
    for (const [limit, web] of [
      [1_024, 512],
      [2_000, 100],
      [65_536, 512],
      [65_536, 10_000],
    ] as const) {
      expect(keepAliveSlots(limit, web) + probeReserve(limit) + web).toBe(limit);
    }
  });

  it('names the smallest limit that would keep every probe alive beside the web server', () => {
    for (const web of [0, 16, 512, 5_000]) {
      for (const slots of [1, 500, 1_535, 1_536, 1_537, 3_000, 12_287, 12_288, 12_289, 30_000]) {
        const limit = limitFor(slots, web);
        expect(keepAliveSlots(limit, web)).toBeGreaterThanOrEqual(slots);
        expect(keepAliveSlots(limit - 1, web)).toBeLessThan(slots);
      }
    }
    expect(limitFor(30_000, 0)).toBe(34_096);
    expect(limitFor(30_000)).toBe(34_608);
  });

  it('grants slots until they run out and reports the shortfall', () => {
    const budget = new KeepAliveBudget({ slots: 2 });
    expect([budget.claim(true), budget.claim(true)]).toEqual([true, true]);
    expect(budget.shortfall()).toBeUndefined();
    expect([budget.claim(true), budget.claim(true), budget.claim(true)]).toEqual([false, false, false]);
    // 5 slots, 512 for the web server, 512 kept back.
    expect(budget.shortfall()).toMatch(/^3 of 5 TLS probes open a new connection every time: the open-file limit \(ulimit -n, now \d+\) leaves keep-alive for 2; raise it to at least 1029/);
    // A smaller web cap needs a smaller limit.
    const small = new KeepAliveBudget({ slots: 2, webConnections: 16 });
    for (let i = 0; i < 5; i++) small.claim(true);
    expect(small.shortfall()).toMatch(/raise it to at least 533 /);
  });

  it('takes its slots from the open-file limit less the web cap it is given', () => {
    expect(new KeepAliveBudget({ webConnections: 300 }).slots).toBe(keepAliveSlots(openFileLimit(), 300));
    expect(new KeepAliveBudget().slots).toBe(keepAliveSlots(openFileLimit(), WEB_MAX_CONNECTIONS));
  });

  it('keeps plain-HTTP connections up to their own bound, within the same slots, without a warning', () => {
    const budget = new KeepAliveBudget({ slots: 4, plainSlots: 2 });
    expect([budget.claim(false), budget.claim(false), budget.claim(false)]).toEqual([true, true, false]);
    expect(budget.shortfall()).toBeUndefined();
    // TLS takes what plain HTTP left.
    expect([budget.claim(true), budget.claim(true), budget.claim(true)]).toEqual([true, true, false]);
    expect(budget.shortfall()).toMatch(/^1 of 3 TLS probes open a new connection every time: .* leaves keep-alive for 2; raise it to at least 1029/);
  });

  it('names a limit that keeps every TLS probe alive even when plain HTTP came first', () => {
    // Slots for 4: plain HTTP takes its 3, TLS gets 1 of 3. Raising the limit by only the 2
    // refused would leave plain HTTP taking 3 of 6 and TLS again short: 3 + 3 are needed.
    const budget = new KeepAliveBudget({ slots: 4, plainSlots: 3 });
    for (let i = 0; i < 5; i++) budget.claim(false);
    expect([budget.claim(true), budget.claim(true), budget.claim(true)]).toEqual([true, false, false]);
    expect(budget.shortfall()).toMatch(/^2 of 3 TLS probes .* leaves keep-alive for 1; raise it to at least 1030 /);
    expect(keepAliveSlots(1030)).toBe(6);
  });
});

describe('--web.max-connections within the open-file limit', () => {
  it('takes the cap asked for when it fits beside the probes\' reserve', () => {
    expect(webConnectionCap(512, false, 1_024)).toEqual({ cap: 512 });
    expect(webConnectionCap(512, true, 1_024)).toEqual({ cap: 512 });
    expect(webConnectionCap(10_000, true, 65_536)).toEqual({ cap: 10_000 });
    expect(webConnectionCap(100_000, true, Infinity)).toEqual({ cap: 100_000 });
  });

  it('refuses a cap given on the command line that does not fit, naming both flags and the limit', () => {
    expect(() => webConnectionCap(1_000, true, 1_024)).toThrow(
      '--web.max-connections=1000 does not fit: the open-file limit (ulimit -n, now 1024) less what the probes keep back (512, for connections up to --probe.concurrency and the exporter\'s own files) leaves 512 for the web server; lower --web.max-connections to at most 512, or raise the limit to at least 1512',
    );
  });

  it('lowers the default to what fits, with a warning saying how much it would take', () => {
    expect(webConnectionCap(512, false, 640)).toEqual({
      cap: 128,
      warning:
        "--web.max-connections lowered from 512 to 128: the open-file limit (ulimit -n, now 640) less what the probes keep back (512, for connections up to --probe.concurrency and the exporter's own files) leaves 128 for the web server; raise the limit to at least 1024 to serve 512",
    });
  });

  it('refuses to start when not even 16 connections would be left', () => {
    expect(() => webConnectionCap(512, false, 520)).toThrow(/^--web\.max-connections=512 does not fit: .* leaves 8 for the web server; raise the limit to at least 1024$/);
    expect(() => webConnectionCap(512, false, 256)).toThrow(/leaves 0 for the web server/);
  });
});
