/**
 * Mutation fuzzing of the configuration loader: every mutated example either loads or
 * fails with a ConfigError naming file, line and column, quickly; a running exporter
 * keeps its configuration through rejected reloads; and an accepted configuration holds
 * timings the scheduler can run.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { OwnMetrics } from '../../src/metrics/own.js';
import { Monitor } from '../../src/monitor/monitor.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { simExporterConfig } from '../../src/sim/exporter-config.js';
import { spawnExporter } from '../helpers/process.js';
import { randomBase, tempDir, waitFor } from '../helpers/stack.js';
import { ensureBuilt, prng, ROOT, sample, sleep } from './util.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261123);
const PER_FILE = 160;
/** setTimeout and AbortSignal.timeout hold at most this many milliseconds (2^31 - 1). */
const MAX_TIMER_MS = 2_147_483_647;

type Rand = () => number;
const pick = <T>(rand: Rand, list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
const int = (rand: Rand, n: number): number => Math.floor(rand() * n);

const HUGE = 'x'.repeat(100_000);
const VALUES = [
  '[1, 2]', '{a: 1}', 'true', 'false', '123', '-5', '0', '-1', '0s', '-1s', '""', "''", '~', 'null', '.nan', '.inf', '-.inf',
  '1e400', '0x7fffffff', '0o17', HUGE, `"${HUGE}"`, '"\\u0000"', '!!binary aGVsbG8=', '!!timestamp 2001-12-14', '*undefined_alias',
  '&anchor value', '"{nope}"', '"{labels.missing}"', '!!str', '!custom tag', '|', '>-', "'", '"', '- item', 'ünïcødé ☃ 𝄞',
  '"http://[::1"', '"ftp://{address}/"', '"http://{address}:99999/"', '@reserved', '`backtick', '%TAG', '0.5', '1_000',
  `${'['.repeat(2000)}${']'.repeat(2000)}`, `${'{a: '.repeat(500)}1${'}'.repeat(500)}`,
];
const DURATIONS = ['garbage', '-1s', '0s', '0ms', '1.5s', '1 s', `${'9'.repeat(30)}h`, `${'9'.repeat(400)}s`, '30d', '1h-1m', '', '"15s"', '15', '15S', 'P1D', '1y', '24d', '25d'];
const KEYS = ['unknown_field_xyz: 1', '[a, b]: 1', '{x: 1}: 2', '1: one', 'null: nothing', '~: tilde', 'true: yes', '"": empty', '? complex\n: value', '<<: {a: 1}', 'password: hunter2', 'bearer_token: abc'];

/** One mutation operator: changes the text, returns a description. */
type Op = (lines: string[], rand: Rand) => string;

const indentOf = (line: string): string => /^[ \t-]*/.exec(line)![0].replace(/-/g, ' ');

const OPS: Record<string, Op> = {
  deleteLine: (l, r) => {
    const i = int(r, l.length);
    l.splice(i, 1);
    return `delete line ${i + 1}`;
  },
  duplicateLine: (l, r) => {
    const i = int(r, l.length);
    l.splice(i, 0, l[i]!);
    return `duplicate line ${i + 1}`;
  },
  swapLines: (l, r) => {
    const i = int(r, l.length);
    const j = int(r, l.length);
    [l[i], l[j]] = [l[j]!, l[i]!];
    return `swap lines ${i + 1} and ${j + 1}`;
  },
  indent: (l, r) => {
    const i = int(r, l.length);
    const change = pick(r, ['+1', '+2', '+4', '-1', '-2', 'tab', 'strip']);
    const line = l[i]!;
    l[i] =
      change === 'tab' ? `\t${line}` : change === 'strip' ? line.trimStart() : change.startsWith('+') ? `${' '.repeat(Number(change))}${line}` : line.slice(Number(change.slice(1)));
    return `indent line ${i + 1} ${change}`;
  },
  replaceScalar: (l, r) => {
    const candidates = l
      .map((line, i) => ({ line, i, spots: [...line.matchAll(/(:\s+)([^,{}[\]\n#]+)/g)] }))
      .filter(({ spots }) => spots.length > 0);
    if (candidates.length === 0) return 'replaceScalar (no candidate)';
    const { line, i, spots } = pick(r, candidates);
    const spot = pick(r, spots);
    const value = pick(r, VALUES);
    const at = spot.index! + spot[1]!.length;
    l[i] = `${line.slice(0, at)}${value}${line.slice(at + spot[2]!.trimEnd().length)}`;
    return `line ${i + 1}: value "${spot[2]!.trim()}" -> ${JSON.stringify(value.slice(0, 40))}${value.length > 40 ? `… (${value.length} chars)` : ''}`;
  },
  replaceDuration: (l, r) => {
    const candidates = l.map((line, i) => ({ line, i })).filter(({ line }) => /\b\d+(?:ms|s|m|h|d)\b/.test(line));
    if (candidates.length === 0) return 'replaceDuration (no candidate)';
    const { line, i } = pick(r, candidates);
    const value = pick(r, DURATIONS);
    l[i] = line.replace(/\b\d+(?:ms|s|m|h|d)\b/, value);
    return `line ${i + 1}: duration -> ${JSON.stringify(value.slice(0, 40))}`;
  },
  randomBytes: (l, r) => {
    const i = int(r, l.length);
    const line = l[i]!;
    const at = int(r, line.length + 1);
    let junk = '';
    for (let n = 1 + int(r, 8); n > 0; n--) {
      junk += pick(r, [
        () => String.fromCharCode(int(r, 32)),
        () => String.fromCharCode(0xd800 + int(r, 0x800)), // lone surrogate
        () => String.fromCodePoint(int(r, 0x110000)),
        () => pick(r, ['\uFEFF', '\r', '\t', '\u0000', '\u2028', ':', '-', '#', '&', '*', '!', '|', '>', '%', '@', '`', '"', "'", '{', '}', '[', ']', ',', '?']),
      ])();
    }
    l[i] = `${line.slice(0, at)}${junk}${line.slice(at)}`;
    return `line ${i + 1} col ${at + 1}: insert ${JSON.stringify(junk)}`;
  },
  truncate: (l, r) => {
    const text = l.join('\n');
    const at = int(r, text.length);
    l.splice(0, l.length, ...text.slice(0, at).split('\n'));
    return `truncate at char ${at}`;
  },
  insertKey: (l, r) => {
    const i = int(r, l.length);
    const key = pick(r, KEYS);
    const indent = indentOf(l[i]!);
    l.splice(i + 1, 0, ...key.split('\n').map((k) => `${indent}${k}`));
    return `after line ${i + 1}: insert ${JSON.stringify(key)}`;
  },
  aliases: (l, r) => {
    const variant = pick(r, ['selfref', 'laughs', 'undefined']);
    if (variant === 'selfref') l.unshift('x-anchor: &loop [*loop]');
    else if (variant === 'laughs') {
      l.unshift('a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, n) => `${String.fromCharCode(98 + n)}: &${String.fromCharCode(98 + n)} [${Array(9).fill(`*${String.fromCharCode(97 + n)}`).join(', ')}]`));
    } else {
      const i = int(r, l.length);
      l[i] = l[i]!.replace(/:\s+\S.*$/, ': *nowhere');
    }
    return `aliases: ${variant}`;
  },
};
const OP_NAMES = Object.keys(OPS);

interface Mutation {
  readonly text: string;
  readonly description: string;
}

function mutate(source: string, rand: Rand): Mutation {
  const lines = source.split('\n');
  const steps: string[] = [];
  for (let n = 1 + (rand() < 0.3 ? int(rand, 3) : 0); n > 0; n--) {
    const name = pick(rand, OP_NAMES);
    steps.push(`${name}(${OPS[name]!(lines, rand)})`);
  }
  return { text: lines.join('\n'), description: steps.join(' + ') };
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

type Outcome = { kind: 'config'; config: Config } | { kind: 'config-error'; error: ConfigError } | { kind: 'other'; error: unknown };

function tryParse(text: string, file: string): { outcome: Outcome; ms: number } {
  const t0 = performance.now();
  let outcome: Outcome;
  try {
    outcome = { kind: 'config', config: parseConfig(text, file) };
  } catch (error) {
    outcome = error instanceof ConfigError ? { kind: 'config-error', error } : { kind: 'other', error };
  }
  return { outcome, ms: performance.now() - t0 };
}

const EXAMPLES = ['demo.yml', 'mft-cluster.yml'].map((name) => join(ROOT, 'examples', name));
const savedToken = process.env['MFT_MONITOR_TOKEN'];

beforeAll(() => {
  process.env['MFT_MONITOR_TOKEN'] = 'fuzz-token';
});
afterAll(() => {
  if (savedToken === undefined) delete process.env['MFT_MONITOR_TOKEN'];
  else process.env['MFT_MONITOR_TOKEN'] = savedToken;
});

describe(`config mutation fuzzing (seed ${SEED}; set FUZZ_SEED to change)`, () => {
  const badTimings: string[] = [];

  it('every mutation loads or fails with a file:line:col ConfigError, fast', async () => {
    console.log(`config fuzz seed: ${SEED}`);
    const rand = prng(SEED);
    const failures: string[] = [];
    let accepted = 0;
    let rejected = 0;
    let maxMs = 0;
    let slowest = '';
    for (const file of EXAMPLES) {
      const source = readFileSync(file, 'utf8');
      // The unmutated file is valid.
      const base = tryParse(source, file);
      expect(base.outcome.kind, `${file} itself`).toBe('config');
      const prefix = new RegExp(`^${escapeRe(file)}:(\\d+):(\\d+): `);
      for (let n = 0; n < PER_FILE; n++) {
        const m = mutate(source, rand);
        const { outcome, ms } = tryParse(m.text, file);
        if (ms > maxMs) {
          maxMs = ms;
          slowest = `${file} #${n}: ${m.description}`;
        }
        const where = `${file.slice(ROOT.length + 1)} #${n} [${m.description}]`;
        if (outcome.kind === 'config') {
          accepted++;
          for (const c of outcome.config.clusters) {
            const timers = [c.heartbeatIntervalMs, ...c.servers.flatMap((s) => s.endpoints.flatMap((e) => [e.intervalMs, e.timeoutMs]))];
            const bad = timers.find((t) => !Number.isFinite(t) || t > MAX_TIMER_MS);
            if (bad !== undefined) badTimings.push(`${where}: cluster ${c.name} accepted with a timer of ${bad} ms`);
          }
        } else if (outcome.kind === 'config-error') {
          rejected++;
          const pos = prefix.exec(outcome.error.message);
          if (!pos) failures.push(`${where}: message without file:line:col: ${outcome.error.message.slice(0, 200)}`);
          else if (Number(pos[1]) < 1 || Number(pos[1]) > m.text.split('\n').length + 1) {
            failures.push(`${where}: line ${pos[1]} outside the file: ${outcome.error.message.slice(0, 200)}`);
          }
        } else {
          const e = outcome.error;
          failures.push(`${where}: threw ${e instanceof Error ? `${e.name}: ${e.message.slice(0, 200)}` : String(e)}`);
        }
      }
    }
    console.log(`${accepted + rejected + failures.length} mutations: ${accepted} accepted, ${rejected} rejected with ConfigError; slowest parse ${maxMs.toFixed(1)} ms (${slowest.slice(0, 200)})`);
    if (failures.length) console.log(`failures:\n${failures.join('\n')}`);
    expect(failures).toEqual([]);
    expect(maxMs).toBeLessThan(1000);
  });

  it('accepted mutations hold heartbeat intervals and probe timeouts that Node timers can run', () => {
    if (badTimings.length) console.log(`accepted with unrunnable timers:\n${badTimings.join('\n')}`);
    expect(badTimings).toEqual([]);
  });
});

describe('durations beyond the 2^31-1 ms timer range', () => {
  let server: Server;
  let port: number;
  let requests = 0;
  const host = randomBase();
  beforeAll(async () => {
    // Answers after 50 ms, so a probe deadline that fires after 1 ms fails it.
    server = createServer((req, res) => {
      requests++;
      req.resume();
      const t = setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'), 50);
      res.on('close', () => clearTimeout(t));
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const configText = (interval: string, timeout: string): string => `clusters:
  - name: slow
    heartbeat_interval: ${interval}
    probe_timeout: ${timeout}
    components:
      - name: web
        probe: { http: { url: "http://{address}:${port}/" } }
        status: status
    servers:
      - { name: s1, address: ${host} }
`;

  /** Parses; if accepted, runs a Monitor on it for `ms` and returns the number of probes. */
  async function run(text: string, ms: number, phase: number): Promise<{ rejected: string } | { probes: number; reason: string | undefined }> {
    let config: Config;
    try {
      config = parseConfig(text, '/tmp/timers.yml');
    } catch (err) {
      if (err instanceof ConfigError) return { rejected: err.message };
      throw err;
    }
    const before = requests;
    const metrics = new OwnMetrics(false);
    const monitor = new Monitor(config, { concurrency: 4, logger: createLogger('error', 'logfmt', { write: () => {} }), metrics, phase });
    // Node prints a TimeoutOverflowWarning for each such timer; keep the test output readable.
    const warnings = process.listeners('warning');
    process.removeAllListeners('warning');
    try {
      monitor.start();
      await sleep(ms);
      await monitor.stop();
    } finally {
      for (const w of warnings) process.on('warning', w);
    }
    const reason = monitor.snapshot().clusters[0]!.servers[0]!.components[0]!.reason ?? undefined;
    return { probes: requests - before, reason };
  }

  // The loader refuses a duration a Node timer cannot hold (it would fire after 1 ms); just
  // inside that range the timers run as written.
  const TOO_LONG = 'must be at most 2147483647ms';

  it('a heartbeat_interval of 30d is rejected; one of 24d probes at most once in a second (no hot loop)', async () => {
    expect(await run(configText('30d', '5s'), 0, 0.9)).toEqual({ rejected: `/tmp/timers.yml:3:25: clusters[0].heartbeat_interval: ${TOO_LONG}` });
    const r = await run(configText('24d', '5s'), 1000, 0.9); // the first round, then one due in 21.6 days
    console.log('heartbeat_interval 24d:', JSON.stringify(r));
    if (!('probes' in r)) throw new Error(r.rejected);
    expect(r.probes, 'probes in 1 s with a 24-day interval').toBeLessThanOrEqual(1);
  });

  it('a heartbeat_interval of 10^400 s (parsed as Infinity ms) is rejected', async () => {
    const r = await run(configText(`${'9'.repeat(400)}s`, '5s'), 0, 0.5);
    expect(r).toEqual({ rejected: expect.stringMatching(/^\/tmp\/timers\.yml:3:25: clusters\[0\]\.heartbeat_interval: must be a duration such as /) });
  });

  it('a probe_timeout of 25d is rejected; one of 23d does not time a 50 ms answer out', async () => {
    expect(await run(configText('24d', '25d'), 0, 0)).toEqual({ rejected: `/tmp/timers.yml:4:20: clusters[0].probe_timeout: ${TOO_LONG}` });
    const r = await run(configText('24d', '23d'), 400, 0);
    console.log('probe_timeout 23d:', JSON.stringify(r));
    if (!('probes' in r)) throw new Error(r.rejected);
    expect(r.probes).toBeGreaterThanOrEqual(1);
    expect(r.reason, 'reason of the first probe').toBeUndefined();
  });
});

describe('a running exporter keeps its configuration through rejected reloads', () => {
  it('answers 500 to each rejected file, keeps the servers, reports 0, and recovers with the good file', async () => {
    ensureBuilt();
    const sim = new SimCluster({ servers: 2, components: [{ name: 'web', port: 8080 }], baseAddress: randomBase() });
    await sim.start();
    const dir = await tempDir('fuzz-reload-');
    const configFile = join(dir, 'config.yml');
    const good = simExporterConfig(sim, { heartbeatInterval: '1s', probeTimeout: '500ms' });
    await writeFile(configFile, good);
    const exporter = await spawnExporter([`--config.file=${configFile}`, '--web.enable-lifecycle']);
    try {
      await waitFor('ready', async () => ((await fetch(`${exporter.url}/-/ready`)).status === 200 ? true : undefined));
      const rand = prng(SEED ^ 0x5eed);
      const rejected: Mutation[] = [
        { text: good.replace(/heartbeat_interval: 1s/, 'heartbeat_interval: 1s\n    password: hunter2'), description: 'inline secret' },
      ];
      for (let n = 0; n < 500 && rejected.length < 20; n++) {
        const m = mutate(good, rand);
        const { outcome } = tryParse(m.text, configFile);
        if (outcome.kind === 'config-error') rejected.push(m);
      }
      expect(rejected.length).toBe(20);
      const metricsText = async (): Promise<string> => (await fetch(`${exporter.url}/metrics`)).text();
      for (const m of rejected) {
        await writeFile(configFile, m.text);
        const res = await fetch(`${exporter.url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
        const body = await res.text();
        expect(res.status, `${m.description}: ${body}`).toBe(500);
        expect(body).toContain(`${configFile}:`);
        const metrics = await metricsText();
        expect(sample(metrics, 'appcluster_exporter_config_last_reload_successful'), m.description).toBe(0);
        for (const s of sim.servers) {
          expect(sample(metrics, 'appcluster_server_info', { app_cluster: 'sim', server: s.name }), `${m.description}: ${s.name}`).toBe(1);
        }
      }
      await writeFile(configFile, good);
      const res = await fetch(`${exporter.url}/-/reload`, { method: 'POST' });
      expect(res.status).toBe(200);
      const metrics = await metricsText();
      expect(sample(metrics, 'appcluster_exporter_config_last_reload_successful')).toBe(1);
      expect(sample(metrics, 'appcluster_server_online', { app_cluster: 'sim', server: 'node-1' })).toBe(1);
      expect(exporter.child.exitCode).toBeNull();
    } finally {
      await exporter.stop();
      await sim.stop();
    }
  }, 60_000);
});
