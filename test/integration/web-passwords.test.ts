import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { createWebApp, sendText, serve, type Served } from '../../src/web/shell.js';
import { loadWebConfig, type WebSettings } from '../../src/web/web-config.js';
import { tempDir } from '../helpers/stack.js';

// Basic auth as web-config.yml gives it, with a hash at cost 12 (what htpasswd -B makes by
// default on current systems): a quarter of a second of CPU per comparison.
const PASSWORD = 'correct horse battery staple';
const FLOOD_PASSWORD = 'flood';
let served: Served;
let web: WebSettings;

beforeAll(async () => {
  const dir = await tempDir();
  const file = join(dir, 'web.yml');
  // `flood` at the lowest cost: a thousand wrong passwords for it take seconds, not minutes.
  await writeFile(file, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync(PASSWORD, 12)}\n  flood: ${bcrypt.hashSync(FLOOD_PASSWORD, 4)}\n`);
  const logger = createLogger('error', 'logfmt', { write: () => true });
  web = await loadWebConfig(file, { logger });
  const app = createWebApp([{ method: 'GET', path: '/metrics', handle: (_req, res) => sendText(res, 200, 'up 1\n') }], { guard: web.guard, logger });
  served = await serve(app, { listenAddress: '127.0.0.1:0' });
});
afterAll(async () => {
  await served.close();
  await web.close();
});

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const get = async (user: string, password: string): Promise<number> => (await fetch(`${served.url}/metrics`, { headers: { authorization: basic(user, password) } })).status;
const wrong = (i: number) => `wrong-${i}-${Math.random()}`;

/** Starts `n` requests with distinct wrong passwords for `user`; `left()` counts those not answered yet. */
function flood(user: string, n: number): { left(): number; statuses: Promise<number[]> } {
  let answered = 0;
  const statuses = Promise.all(
    Array.from({ length: n }, (_, i) =>
      get(user, wrong(i)).then((status) => {
        answered++;
        return status;
      }),
    ),
  );
  return { left: () => n - answered, statuses };
}

/** Calls `during` while a 5 ms interval timer runs; returns the gaps between its ticks, sorted, in ms. */
async function tickGaps(during: () => Promise<unknown>): Promise<number[]> {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 5);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  return gaps.sort((a, b) => a - b);
}

describe('basic auth under a flood of wrong passwords', () => {
  it('checks passwords off the main thread: its timers keep ticking while 16 cost-12 checks run', async () => {
    const gaps = await tickGaps(async () => {
      expect(await flood('prometheus', 16).statuses).toEqual(Array(16).fill(401));
    });
    // bcrypt on the main thread holds it for up to 100 ms at a time (bcryptjs's slices),
    // which nearly every tick would then wait on.
    expect(gaps.length).toBeGreaterThan(50);
    expect(gaps[Math.floor(gaps.length * 0.9)]).toBeLessThan(50);
  });

  it('keeps a good login through 1,100 distinct wrong passwords and answers it at once while 16 checks are queued', async () => {
    expect(await get('prometheus', PASSWORD)).toBe(200);
    // More wrong passwords than any bound on remembered outcomes (the code before this
    // remembered up to 1,000 of either kind, then forgot all).
    for (let i = 0; i < 1_100; i += 50) {
      expect(await flood('flood', 50).statuses).toEqual(Array(50).fill(401));
    }
    const queued = flood('prometheus', 16);
    expect(await get('prometheus', PASSWORD)).toBe(200);
    // Sixteen cost-12 comparisons one at a time take seconds: a good login that had to
    // wait for a comparison of its own, or for theirs, would come after most of them.
    expect(queued.left()).toBeGreaterThanOrEqual(8);
    expect(await queued.statuses).toEqual(Array(16).fill(401));
    expect(await get('flood', FLOOD_PASSWORD)).toBe(200);
  });

  it('takes as long for an unknown user as for a known user with a wrong password', async () => {
    const timed = async (user: string): Promise<number> => {
      const t0 = performance.now();
      expect(await get(user, wrong(0))).toBe(401);
      return performance.now() - t0;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    // Alternated, so that a busy moment of the machine falls on both.
    for (let i = 0; i < 5; i++) {
      known.push(await timed('prometheus'));
      unknown.push(await timed(`mallory${i}`));
    }
    const median = (v: number[]) => v.sort((a, b) => a - b)[2]!;
    // The decoy for unknown users costs what the costliest user's hash costs (12, not 4).
    expect(median(unknown) / median(known)).toBeGreaterThan(0.5);
    expect(median(unknown) / median(known)).toBeLessThan(2);
  });
});
