import { describe, expect, it } from 'vitest';
import { DEFAULT_HEALTHY, extract, parseHeartbeat, parseJsonPath } from '../../src/probes/extract.js';

describe('JSON paths', () => {
  it.each([
    ['status', ['status']],
    ['$.node.version', ['node', 'version']],
    ['items[0].os', ['items', 0, 'os']],
    ['["key.id"].value', ['key.id', 'value']],
  ])('%s', (path, segments) => {
    expect(parseJsonPath(path)).toEqual(segments);
  });
  it.each(['', 'a..b', '.a', 'a[x]', 'a b'])('rejects %j', (path) => {
    expect(parseJsonPath(path)).toBeUndefined();
  });
});

describe('heartbeat timestamps', () => {
  const ms = Date.UTC(2026, 10, 23, 12, 0, 0);
  it.each([
    ['ISO 8601', '2026-11-23T12:00:00Z'],
    ['ISO with offset', '2026-11-23T13:00:00+01:00'],
    ['epoch seconds', ms / 1000],
    ['epoch milliseconds', ms],
    ['epoch seconds as text', String(ms / 1000)],
  ])('%s', (_name, value) => {
    expect(parseHeartbeat(value)).toBe(ms);
  });
  it('ignores garbage', () => {
    expect(parseHeartbeat('yesterday')).toBeUndefined();
    expect(parseHeartbeat({})).toBeUndefined();
  });
});

describe('extract', () => {
  const hash = (raw: string) => `h(${raw.length})`;
  const spec = {
    status: { from: { json: ['state'] }, healthy: DEFAULT_HEALTHY },
    version: { header: 'x-version' },
    key: { json: ['secret', 'key'] },
    heartbeat: { json: ['hb'] },
    os: { json: ['os'] },
    values: { sessions: { json: ['n'] }, bogus: { json: ['nope'] } },
  } as const;

  it('reads facts from body and headers and hashes the raw key at once', () => {
    const r = extract(spec, { state: 'UP', secret: { key: 'abcdef' }, hb: 1700000000, os: 'Linux', n: '7' }, { 'x-version': '8.6.2' }, hash);
    expect(r).toEqual({ success: true, status: 'UP', version: '8.6.2', keyHash: 'h(6)', heartbeatMs: 1_700_000_000_000, os: 'Linux', values: { sessions: 7 } });
    expect(JSON.stringify(r)).not.toContain('abcdef');
  });

  it('fails with status_not_ok on an unhealthy status, keeping the facts', () => {
    const r = extract(spec, { state: 'degraded', os: 'Linux' }, {}, hash);
    expect(r).toMatchObject({ success: false, reason: 'status_not_ok', status: 'degraded', os: 'Linux' });
  });

  it('fails with bad_body when the status field is missing', () => {
    expect(extract(spec, { other: 1 }, {}, hash)).toMatchObject({ success: false, reason: 'bad_body' });
  });

  it('clips long values a server sends', () => {
    const r = extract({ values: {}, version: { json: ['v'] } }, { v: 'x'.repeat(500) }, {}, hash);
    expect(r.version!.length).toBeLessThanOrEqual(65);
  });
});
