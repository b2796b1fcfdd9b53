import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJsonPath } from '../../src/config/json-path.js';
import { DEFAULT_HEALTHY } from '../../src/config/schema.js';
import { EPOCH_MS_FROM, parseHeartbeat } from '../../src/probes/extract.js';
import { extract } from '../helpers/probe.js';



describe('JSON paths', () => {
  it.each([
    ['status', ['status']],
    ['$.node.version', ['node', 'version']],
    ['items[0].os', ['items', 0, 'os']],
    ['["key.id"].value', ['key.id', 'value']],
    ['$["a b"]', ['a b']],
    ['$[0]', [0]],
    ['[1].x-y_z', [1, 'x-y_z']],
    ['["it\'s"]', ["it's"]],
    ['["say \\"hi\\""]', ['say "hi"']],
    ['["back\\\\slash"]', ['back\\slash']],
    ['["\\u00e9t\\u00e9"]', ['été']],
    ['data["0"]', ['data', '0']],
    ['[""]', ['']],
  ])('%s', (path, segments) => {
    expect(parseJsonPath(path)).toEqual(segments);
  });
  it.each(['', '$', 'a..b', '.a', 'a[x]', 'a b', '$a', 'a.0', 'a[-1]', 'a[ 0 ]', '["a"', '["a\\"]', '["a\\q"]', "['a']", 'a.', 'a["b"]c'])(
    'rejects %j',
    (path) => {
      expect(parseJsonPath(path)).toBeUndefined();
    },
  );

  const read = (path: string, body: unknown) => extract({ values: {}, version: { json: parseJsonPath(path)! } }, body, {}, (k) => k).version;
  it('matches an index only to a list element and a name only to an own key of an object', () => {
    expect(read('data[0]', { data: { '0': 'x' } })).toBeUndefined();
    expect(read('data["0"]', { data: { '0': 'x' } })).toBe('x');
    expect(read('data[0]', { data: ['y'] })).toBe('y');
    expect(read('data["0"]', { data: ['y'] })).toBeUndefined();
    expect(read('data[1]', { data: ['y'] })).toBeUndefined();
    expect(read('data[0]', { data: 'xyz' })).toBeUndefined();
    expect(read('data.length', { data: [1, 2] })).toBeUndefined();
    expect(read('data.length', { data: 'xyz' })).toBeUndefined();
    expect(read('data.constructor', { data: {} })).toBeUndefined();
    expect(read('["__proto__"]', {})).toBeUndefined();
    expect(read('data.toString', { data: {} })).toBeUndefined();
    expect(read('["__proto__"].x', JSON.parse('{"__proto__":{"x":"own"}}'))).toBe('own');
  });
  it('reads names holding a dot, a space or a quote', () => {
    const body = { 'a.b': 'dot', 'a b': 'space', "it's": 'single', 'say "hi"': 'double', a: { b: 'nested' } };
    expect(read('["a.b"]', body)).toBe('dot');
    expect(read('a.b', body)).toBe('nested');
    expect(read('$["a b"]', body)).toBe('space');
    expect(read('["it\'s"]', body)).toBe('single');
    expect(read('["say \\"hi\\""]', body)).toBe('double');
  });
});

describe('heartbeat timestamps', () => {
  const ms = Date.UTC(2026, 10, 23, 12, 0, 0);
  const probe = ms + 5000;
  it.each([
    ['RFC 3339', '2026-11-23T12:00:00Z'],
    ['lower-case t and z', '2026-11-23t12:00:00z'],
    ['with offset', '2026-11-23T13:00:00+01:00'],
    ['with negative offset, no colon', '2026-11-23T06:30:00-0530'],
    ['with fraction', '2026-11-23T12:00:00.000000Z'],
    ['without offset: UTC', '2026-11-23T12:00:00'],
    ['space for T, without offset: UTC', '2026-11-23 12:00:00'],
    ['surrounding spaces', ' 2026-11-23T12:00:00Z '],
    ['epoch seconds', ms / 1000],
    ['epoch milliseconds', ms],
    ['epoch seconds as text', String(ms / 1000)],
    ['epoch milliseconds as text', ` ${ms} `],
  ])('%s', (_name, value) => {
    expect(parseHeartbeat(value, probe)).toEqual({ ms });
  });
  it('keeps milliseconds of a fraction and of epoch seconds', () => {
    expect(parseHeartbeat('2026-11-23T12:00:00.1239Z', probe)).toEqual({ ms: ms + 123 });
    expect(parseHeartbeat(ms / 1000 + 0.25, probe)).toEqual({ ms: ms + 250 });
    expect(parseHeartbeat('2024-02-29T00:00:00Z', probe)).toEqual({ ms: Date.UTC(2024, 1, 29) });
  });
  it('takes values from 1e11 up as milliseconds, below as seconds', () => {
    expect(EPOCH_MS_FROM).toBe(1e11);
    expect(parseHeartbeat(99_999_999_999, Infinity)).toEqual({ ms: 99_999_999_999_000 });
    expect(parseHeartbeat(100_000_000_000, Infinity)).toMatchObject({ problem: 'heartbeat "100000000000" is before 2000-01-01' });
  });
  it.each([
    [0, 'heartbeat "0" is before 2000-01-01'],
    [-1, 'heartbeat "-1" is before 2000-01-01'],
    ['0', 'heartbeat "0" is before 2000-01-01'],
    ['-1', 'heartbeat "-1" is before 2000-01-01'],
    ['1', 'heartbeat "1" is before 2000-01-01'],
    ['1999-12-31T23:59:59Z', 'heartbeat "1999-12-31T23:59:59Z" is before 2000-01-01'],
    [ms + 5000 + 86_400_001, `heartbeat "${ms + 5000 + 86_400_001}" is more than a day ahead of the probe`],
    ['March 7', 'heartbeat "March 7" is not a timestamp'],
    ['yesterday', 'heartbeat "yesterday" is not a timestamp'],
    ['2026-13-45', 'heartbeat "2026-13-45" is not a timestamp'],
    ['2026-13-01T00:00:00Z', 'heartbeat "2026-13-01T00:00:00Z" is not a timestamp'],
    ['2026-02-29T00:00:00Z', 'heartbeat "2026-02-29T00:00:00Z" is not a timestamp'],
    ['2026-11-23T24:00:00Z', 'heartbeat "2026-11-23T24:00:00Z" is not a timestamp'],
    ['2026-11-23T12:00:00+24:00', 'heartbeat "2026-11-23T12:00:00+24:00" is not a timestamp'],
    ['2026-11-23', 'heartbeat "2026-11-23" is not a timestamp'],
    ['Mon, 23 Nov 2026 12:00:00 GMT', 'heartbeat "Mon, 23 Nov 2026 12:00:00 GMT" is not a timestamp'],
    ['1.7e9', 'heartbeat "1.7e9" is not a timestamp'],
    ['', 'heartbeat "" is not a timestamp'],
    [true, 'heartbeat "true" is not a timestamp'],
    [null, 'heartbeat is null, not a timestamp'],
    [{}, 'heartbeat is an object, not a timestamp'],
    [[ms], 'heartbeat is a list, not a timestamp'],
    [undefined, 'heartbeat missing'],
  ])('refuses %j', (value, problem) => {
    expect(parseHeartbeat(value, probe)).toEqual({ problem });
  });
  it('clips server text in the problem', () => {
    const r = parseHeartbeat('x'.repeat(10_000), probe);
    expect('problem' in r && r.problem.length).toBeLessThanOrEqual(100);
  });
  it('allows a day of clock skew ahead of the probe', () => {
    expect(parseHeartbeat(probe + 86_400_000, probe)).toEqual({ ms: probe + 86_400_000 });
  });
});

// Node applies a TZ assigned at run time to later Date calls, so this proves the
// parser ignores the local zone even when the suite itself runs under UTC.
describe('heartbeat timestamps under a local time zone other than UTC', () => {
  const saved = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = 'America/New_York';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  it.each([
    ['2026-02-03T04:53:13', Date.UTC(2026, 1, 3, 4, 53, 13)],
    ['2026-08-21 12:00:00', Date.UTC(2026, 7, 21, 12, 0, 0)],
  ])('reads %s as UTC', (text, ms) => {
    expect(new Date(ms).getTimezoneOffset()).not.toBe(0);
    expect(parseHeartbeat(text, ms)).toEqual({ ms });
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
    expect(r).toEqual({
      success: true,
      status: 'UP',
      version: '8.6.2',
      keyHash: 'h(6)',
      heartbeatMs: 1_700_000_000_000,
      os: 'Linux',
      values: { sessions: 7 },
      facts: {},
      // A configured value the answer does not hold is a problem the API shows, not silence.
      problems: ['value bogus: missing'],
    });
    expect(JSON.stringify(r)).not.toContain('abcdef');
  });

  it('fails with status_not_ok on an unhealthy status, keeping the facts', () => {
    const r = extract(spec, { state: 'degraded', os: 'Linux' }, {}, hash);
    expect(r).toMatchObject({ success: false, reason: 'status_not_ok', status: 'degraded', os: 'Linux' });
  });

  it('fails with bad_body when the status field is missing', () => {
    expect(extract(spec, { other: 1 }, {}, hash)).toMatchObject({ success: false, reason: 'bad_body' });
  });

  it('compares the status trimmed and ignoring case', () => {
    const health = { values: {}, status: { from: { json: ['health'] }, healthy: ['true'] } };
    expect(extract(health, { health: ' true ' }, {}, hash)).toMatchObject({ success: true, status: ' true ' });
    expect(extract(health, { health: 'TRUE' }, {}, hash)).toMatchObject({ success: true });
    expect(extract(health, { health: true }, {}, hash)).toMatchObject({ success: true });
    expect(extract(spec, { state: '\tOnline\n' }, {}, hash)).toMatchObject({ success: true });
    expect(extract(health, { health: 'truely' }, {}, hash)).toMatchObject({ success: false, detail: 'status "truely"' });
  });

  it('puts the reason an answer gives for an unhealthy status in the detail, clipped', () => {
    const etcd = { values: {}, status: { from: { json: ['health'] }, healthy: ['true'], reason: { json: ['reason'] } } };
    expect(extract(etcd, { health: 'false', reason: 'RAFT NO LEADER' }, {}, hash)).toMatchObject({
      success: false,
      reason: 'status_not_ok',
      detail: 'status "false": RAFT NO LEADER',
    });
    expect(extract(etcd, { health: 'false', reason: '' }, {}, hash)).toMatchObject({ detail: 'status "false"' });
    expect(extract(etcd, { health: 'false' }, {}, hash)).toMatchObject({ detail: 'status "false"' });
    expect(extract(etcd, { health: 'true', reason: 'ignored' }, {}, hash)).toEqual({ success: true, status: 'true', values: {}, facts: {} });
    const long = extract(etcd, { health: 'false', reason: 'x'.repeat(5000) }, {}, hash);
    expect(long.detail).toBe(`status "false": ${'x'.repeat(120)}…`);
  });

  it('reports why an answer holds no valid heartbeat instead of a time', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(extract(spec, { state: 'ok', hb: 0 }, {}, hash, now)).toMatchObject({ success: true, heartbeatProblem: 'heartbeat "0" is before 2000-01-01' });
    expect(extract(spec, { state: 'ok', hb: 0 }, {}, hash, now).heartbeatMs).toBeUndefined();
    expect(extract(spec, { state: 'ok' }, {}, hash, now)).toMatchObject({ heartbeatProblem: 'heartbeat missing' });
    expect(extract(spec, { state: 'ok', hb: '2025-12-31T23:00:00Z' }, {}, hash, now)).toMatchObject({ heartbeatMs: now - 3_600_000 });
    expect(extract(spec, { state: 'ok', hb: '2025-12-31T23:00:00Z' }, {}, hash, now).heartbeatProblem).toBeUndefined();
  });

  it('clips long values a server sends', () => {
    const r = extract({ values: {}, version: { json: ['v'] } }, { v: 'x'.repeat(500) }, {}, hash);
    expect(r.version!.length).toBeLessThanOrEqual(65);
  });
});
