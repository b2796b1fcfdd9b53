import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../../src/evaluate/snapshot.js';
import { SnapshotCache } from '../../src/web/snapshot-cache.js';

/** The body, read at once. */
const read = async (b: Buffer): Promise<Buffer> => b;

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
    const bodies = await Promise.all(Array.from({ length: 100 }, () => t.cache.use('metrics', render, read)));
    expect(renders).toBe(1);
    expect(new Set(bodies.map(String))).toEqual(new Set(['1']));
    // Another format is rendered from the same snapshot.
    expect(String(await t.cache.use('status', (s) => Buffer.from(`s${s.generatedAt}`), read))).toBe('s1');
    t.advance(1000);
    expect(String(await t.cache.use('metrics', render, read))).toBe('2');
    expect(renders).toBe(2);
  });

  it('does not keep a failed rendering', async () => {
    const t = setup();
    await expect(t.cache.use('metrics', () => Promise.reject(new Error('boom')), read)).rejects.toThrow('boom');
    expect(String(await t.cache.use('metrics', () => Buffer.from('ok'), read))).toBe('ok');
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
      if (maxAgeMs) expect(String(await t.cache.use('m', render, read))).toBe('plain 1');
    }
  });

  describe('recycling a rendering read through use()', () => {
    const render = (s: Snapshot) => Buffer.from(`body ${s.generatedAt}`);

    it('recycles it once its snapshot is no longer shared and no use runs, once', async () => {
      const t = setup();
      const recycled: string[] = [];
      const recycle = (b: Buffer) => recycled.push(String(b));
      let finish!: () => void;
      const sending = t.cache.use('m', render, (b) => new Promise<string>((r) => (finish = () => r(String(b)))), recycle);
      expect(await t.cache.use('m', render, async (b) => String(b), recycle)).toBe('body 1');
      await flush();
      expect(recycled).toEqual([]); // still shared
      t.advance(1000);
      expect(await t.cache.use('m', render, async (b) => String(b), recycle)).toBe('body 2');
      await flush();
      expect(recycled).toEqual([]); // retired, but one response is still being sent
      finish();
      expect(await sending).toBe('body 1');
      await flush();
      expect(recycled).toEqual(['body 1']);
      t.setVersion('b');
      t.cache.snapshot();
      await flush();
      expect(recycled).toEqual(['body 1', 'body 2']);
    });

    it('never recycles one whose use ended unsure', async () => {
      const t = setup();
      const recycled: string[] = [];
      const recycle = (b: Buffer) => recycled.push(String(b));
      await t.cache.use('m', render, async () => undefined, recycle);
      await expect(t.cache.use('m', render, () => Promise.reject(new Error('client gone')), recycle)).rejects.toThrow('client gone');
      t.advance(1000);
      t.cache.snapshot();
      await flush();
      expect(recycled).toEqual([]);
    });

    it('without sharing, recycles each rendering when its one use ends', async () => {
      const t = setup(0);
      const recycled: string[] = [];
      expect(await t.cache.use('m', render, async (b) => String(b), (b) => recycled.push(String(b)))).toBe('body 1');
      await flush();
      expect(recycled).toEqual(['body 1']);
    });

    it('holds the plain rendering while it is transformed, then recycles it', async () => {
      for (const maxAgeMs of [1000, 0]) {
        const t = setup(maxAgeMs);
        const recycled: string[] = [];
        let transformed!: () => void;
        const gz = t.cache.derived(
          'm',
          render,
          'up',
          (b) => new Promise<Buffer>((r) => (transformed = () => r(Buffer.from(String(b).toUpperCase())))),
          (b) => recycled.push(String(b)),
        );
        await flush();
        t.advance(1000);
        t.cache.snapshot();
        await flush();
        expect(recycled).toEqual([]);
        transformed();
        expect(String(await gz)).toBe('BODY 1');
        await flush();
        expect(recycled).toEqual(['body 1']);
      }
    });

    it('renders anew for a late reader of a snapshot whose rendering was recycled', async () => {
      const t = setup();
      let renders = 0;
      const counted = (s: Snapshot) => (renders++, render(s));
      await t.cache.use('m', counted, async () => undefined, () => undefined);
      // A transform scheduled on snapshot 1 whose plain rendering is recycled before it reads it.
      const gz = t.cache.derived('m', counted, 'up', async (b) => Buffer.from(String(b).toUpperCase()));
      t.advance(1000);
      t.cache.snapshot();
      expect(String(await gz)).toBe('BODY 1');
      expect(renders).toBe(2);
    });
  });
});

/** Lets pending promise callbacks run. */
function flush(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
