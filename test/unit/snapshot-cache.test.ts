import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/evaluate/snapshot.js';
import { SnapshotCache } from '../../src/web/snapshot-cache.js';

function setup(maxAgeMs = 1000) {
  let now = 0;
  let version = 'a';
  let taken = 0;
  const cache = new SnapshotCache(
    () => ({ generatedAt: ++taken, clusters: [] }) as Snapshot,
    () => version,
    maxAgeMs,
    () => now,
  );
  return {
    cache,
    taken: () => taken,
    advance: (ms: number) => (now += ms),
    setVersion: (v: string) => (version = v),
  };
}

describe('SnapshotCache', () => {
  it('shares one snapshot until it is maxAge old', () => {
    const t = setup();
    const first = t.cache.snapshot();
    t.advance(999);
    expect(t.cache.snapshot()).toBe(first);
    t.advance(1);
    expect(t.cache.snapshot()).not.toBe(first);
    expect(t.taken()).toBe(2);
  });

  it('takes a new snapshot at once when the configuration changes', () => {
    const t = setup();
    const first = t.cache.snapshot();
    t.setVersion('b');
    expect(t.cache.snapshot()).not.toBe(first);
  });

  it('with maxAge 0, takes a snapshot for every request', () => {
    const t = setup(0);
    t.cache.snapshot();
    t.cache.snapshot();
    expect(t.taken()).toBe(2);
  });

  it('renders each format once per snapshot, however many ask at once', async () => {
    const t = setup();
    let renders = 0;
    const render = async (s: Snapshot) => {
      renders++;
      await new Promise((r) => setTimeout(r, 10));
      return Buffer.from(String(s.generatedAt));
    };
    const bodies = await Promise.all(Array.from({ length: 100 }, () => t.cache.rendering('metrics', render)));
    expect(renders).toBe(1);
    expect(new Set(bodies.map(String))).toEqual(new Set(['1']));
    // Another format is rendered from the same snapshot.
    expect(String(await t.cache.rendering('status', (s) => Buffer.from(`s${s.generatedAt}`)))).toBe('s1');
    t.advance(1000);
    expect(String(await t.cache.rendering('metrics', render))).toBe('2');
    expect(renders).toBe(2);
  });

  it('does not keep a failed rendering', async () => {
    const t = setup();
    await expect(t.cache.rendering('metrics', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(String(await t.cache.rendering('metrics', () => Buffer.from('ok')))).toBe('ok');
  });

  it('derives a transformed rendering from the plain one of the same snapshot', async () => {
    for (const maxAgeMs of [1000, 0]) {
      const t = setup(maxAgeMs);
      const render = (s: Snapshot) => Buffer.from(`plain ${s.generatedAt}`);
      let transforms = 0;
      const upper = async (b: Buffer) => {
        transforms++;
        return Buffer.from(b.toString().toUpperCase());
      };
      const bodies = await Promise.all([t.cache.derived('m', render, 'up', upper), t.cache.derived('m', render, 'up', upper)]);
      // One snapshot for both with sharing, one each without; never a second snapshot per request.
      expect(bodies.map(String)).toEqual(maxAgeMs ? ['PLAIN 1', 'PLAIN 1'] : ['PLAIN 1', 'PLAIN 2']);
      expect(t.taken()).toBe(maxAgeMs ? 1 : 2);
      expect(transforms).toBe(maxAgeMs ? 1 : 2);
      if (maxAgeMs) expect(String(await t.cache.rendering('m', render))).toBe('plain 1');
    }
  });
});
