#!/usr/bin/env node
// Load benchmark (issue 7, item 5): many concurrent clients scraping /metrics and
// /api/v1/status while the exporter probes a large simulated cluster. It prints its figures
// and a verdict; it is a benchmark, not a timed test.
//
//   npm run bench:load
//   npm run bench:load -- --components=3000 --clients=100 --duration=60 --interval=15s
//
// A simulated cluster (bench/sim-server.ts, its own process(es), on 127.61.x.y so as not to
// clash with `npm run bench` on 127.60.x.y), the exporter (its own process) probing every
// component, and then `--clients` keep-alive HTTP clients, each in a closed loop alternating
// GET /metrics and GET /api/v1/status (half of them start with each) for `--duration` seconds.
// Requests in flight at the end are waited for, not aborted. Probe counters and the schedule
// lag histogram come from the exporter's own metrics before and after; CPU and memory of the
// exporter's own PID from /proc.
//
// PASS: no client errors, no skipped probes, >= 95% of the scheduled probes run, schedule lag
// p99 <= 1 s. Exit code 0 on PASS, 1 on FAIL (or when the run itself fails).
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { nthAddress } from '../src/sim/cluster.js';
import {
  COMPONENTS,
  EXPORTER,
  PROBE_TIMEOUT_S,
  cpuModel,
  exitOnError,
  get,
  guardChildren,
  log,
  ownCounters,
  requireBuild,
  shippedFlags,
  startSim,
  waitFor200,
} from './harness.js';
import {
  bucketDelta,
  cpuSeconds,
  fixed as f,
  fmtBytes,
  fmtMB as mb,
  fmtMs as ms,
  freePort,
  histogramQuantile,
  killAllChildren,
  memory,
  openFiles,
  startChild,
  table,
  type Child,
} from './lib.js';

const BASE_ADDRESS = '127.61.0.1';
/** A client request that takes longer than this counts as an error ("timeout"). */
const REQUEST_TIMEOUT_MS = 60_000;

const USAGE = `usage: npm run bench:load -- [flags]

  --components=N     simulated components, 2 per server (default 3000)
  --clients=N        concurrent HTTP clients (default 100)
  --duration=SECONDS how long the clients send requests (default 60)
  --interval=DUR     heartbeat / probe interval, e.g. 15s or 1m (default 15s)
`;

const { values: flags } = parseArgs({
  options: {
    components: { type: 'string', default: '3000' },
    clients: { type: 'string', default: '100' },
    duration: { type: 'string', default: '60' },
    interval: { type: 'string', default: '15s' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

/** `15s`, `1m`, `500ms` or plain seconds, in seconds. */
function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * ({ ms: 0.001, s: 1, m: 60 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm'];
}

const SERVERS = Math.ceil(Number(flags.components.replace(/_/g, '')) / COMPONENTS.length);
const N_COMPONENTS = SERVERS * COMPONENTS.length;
const CLIENTS = Number(flags.clients);
const DURATION_S = Number(flags.duration);
const INTERVAL_S = seconds(flags.interval);
if (!Number.isInteger(SERVERS) || SERVERS < 1 || !Number.isInteger(CLIENTS) || CLIENTS < 1 || !(DURATION_S >= 5) || !(INTERVAL_S > PROBE_TIMEOUT_S)) {
  process.stderr.write(`bad flags\n\n${USAGE}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// Cleanup: children die with us, and the whole run has a hard deadline.

/** The run's temporary directory (simulator and exporter configs), removed on any exit. */
let tmpDir: string | undefined;
guardChildren(DURATION_S + 4 * INTERVAL_S + 600, () => {
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// The clients

interface Endpoint {
  readonly path: string;
  /** Why a 200 answer is not a complete one, or undefined when it is. */
  readonly check: (body: Buffer) => string | undefined;
}

const ENDPOINTS: readonly Endpoint[] = [
  {
    path: '/metrics',
    check: (body) =>
      body.length === 0 || body[body.length - 1] !== 10
        ? 'no final newline'
        : !body.includes('appcluster_server_online')
          ? 'no appcluster_server_online'
          : undefined,
  },
  {
    path: '/api/v1/status',
    check: (body) => {
      let doc: unknown;
      try {
        doc = JSON.parse(body.toString('utf8'));
      } catch {
        return 'invalid JSON';
      }
      return (doc as { status?: unknown } | null)?.status === 'success' ? undefined : 'status not "success"';
    },
  },
];

interface Stats {
  requests: number;
  ok: number;
  errors: Map<string, number>;
  bytes: number;
  /** Milliseconds, of every request that got an HTTP answer. */
  latencies: number[];
}

const stats = new Map<string, Stats>(ENDPOINTS.map((e) => [e.path, { requests: 0, ok: 0, errors: new Map(), bytes: 0, latencies: [] }]));

function countError(s: Stats, kind: string): void {
  s.errors.set(kind, (s.errors.get(kind) ?? 0) + 1);
}

async function one(pool: Pool, ep: Endpoint): Promise<void> {
  const s = stats.get(ep.path)!;
  s.requests++;
  const start = performance.now();
  try {
    const res = await pool.request({ method: 'GET', path: ep.path, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = Buffer.from(await res.body.arrayBuffer());
    s.latencies.push(performance.now() - start);
    s.bytes += body.length;
    const problem = res.statusCode === 200 ? ep.check(body) : `HTTP ${res.statusCode}`;
    if (problem) countError(s, problem);
    else s.ok++;
  } catch (err) {
    const e = err as { code?: unknown; name?: unknown };
    countError(s, e.name === 'TimeoutError' ? 'timeout' : String(e.code ?? e.name ?? 'error'));
  }
}

/** One client: a closed loop of alternating requests until `deadline`. */
async function client(pool: Pool, first: number, deadline: number): Promise<void> {
  for (let k = first; performance.now() < deadline; k++) await one(pool, ENDPOINTS[k % ENDPOINTS.length]!);
}

// ---------------------------------------------------------------------------------------
// Reporting helpers

const count = (n: number): string => n.toLocaleString('en-US');

/** Nearest-rank quantile of a sorted list. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function machine(): string {
  return `nproc ${availableParallelism()}, ${cpuModel()}, node ${process.version}`;
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<boolean> {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'appcluster-load-'));
  tmpDir = dir;
  const children: Child[] = [];
  try {
    log(`${count(N_COMPONENTS)} components (${count(SERVERS)} servers x ${COMPONENTS.length}), ${CLIENTS} clients, ${DURATION_S} s, interval ${INTERVAL_S} s`);
    const { sim, configFile } = await startSim({ servers: SERVERS, baseAddress: BASE_ADDRESS, intervalSeconds: INTERVAL_S, dir });
    children.push(...sim.shards.map((s) => s.child));
    log(`  simulator: ${BASE_ADDRESS}..${nthAddress(BASE_ADDRESS, SERVERS - 1)} in ${sim.shards.length} process(es) (pids ${sim.shards.map((s) => s.child.pid).join(', ')})`);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = performance.now();
    const exporter = await startChild('exporter', process.execPath, [...shippedFlags(), EXPORTER, `--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn']);
    children.push(exporter);
    await waitFor200(`${url}/-/healthy`, 120_000, exporter);
    const listeningSeconds = (performance.now() - started) / 1000;
    log(`  exporter pid ${exporter.pid} listening on ${url}; waiting for every component to be probed once`);
    await waitFor200(`${url}/-/ready`, (INTERVAL_S * 3 + 60) * 1000, exporter, 50);
    const readySeconds = (performance.now() - started) / 1000;
    log(`  exporter ready after ${f(readySeconds, 2)} s`);

    // Before
    const before = await get(`${url}/metrics`);
    if (before.status !== 200) throw new Error(`/metrics: HTTP ${before.status}`);
    const c0 = ownCounters(before.text);
    const cpu0 = cpuSeconds(exporter.pid);
    const simCpu0 = sim.cpuSeconds();
    const rss0 = memory(exporter.pid).rss;
    const bench0 = process.cpuUsage();
    const w0 = performance.now();

    // Load
    log(`  ${CLIENTS} clients on /metrics and /api/v1/status for ${DURATION_S} s`);
    const pool = new Pool(url, {
      connections: CLIENTS,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
    let maxRss = rss0;
    let maxConnected = 0;
    const sampler = setInterval(() => {
      if (!exporter.exited) maxRss = Math.max(maxRss, memory(exporter.pid).rss);
      maxConnected = Math.max(maxConnected, pool.stats.connected);
    }, 1000);
    const deadline = w0 + DURATION_S * 1000;
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(pool, i % 2, deadline)));
    const loadSeconds = (performance.now() - w0) / 1000;
    clearInterval(sampler);
    await pool.close();
    if (exporter.exited) throw new Error(`the exporter exited during the load\n${exporter.tail.join('\n')}`);

    // After
    const after = await get(`${url}/metrics`);
    if (after.status !== 200) throw new Error(`/metrics: HTTP ${after.status}`);
    const c1 = ownCounters(after.text);
    const cpu1 = cpuSeconds(exporter.pid);
    const simCpu1 = sim.cpuSeconds();
    const bench1 = process.cpuUsage(bench0);
    const windowSeconds = (performance.now() - w0) / 1000;
    const mem = memory(exporter.pid);
    const fds = openFiles(exporter.pid);

    const probes = c1.probes - c0.probes;
    const expected = (N_COMPONENTS * windowSeconds) / INTERVAL_S;
    const failures = c1.failures - c0.failures;
    const skipped = c1.skipped - c0.skipped;
    const failureReasons = [...c1.reasons]
      .map(([reason, n]) => [reason, n - (c0.reasons.get(reason) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => `${reason}: ${n}`)
      .join(', ');
    const lag = bucketDelta(c0.lag, c1.lag);
    const p50 = histogramQuantile(0.5, lag);
    const p99 = histogramQuantile(0.99, lag);
    const pct = (cpu: number): string => `${f((100 * cpu) / windowSeconds, 1)}% of a core`;

    const clientRows = ENDPOINTS.map((ep) => {
      const s = stats.get(ep.path)!;
      const sorted = [...s.latencies].sort((a, b) => a - b);
      const errors = [...s.errors.values()].reduce((a, b) => a + b, 0);
      const kinds = [...s.errors].map(([k, n]) => `${k}: ${n}`).join(', ');
      return [
        ep.path,
        count(s.requests),
        f(s.requests / loadSeconds, 1),
        errors === 0 ? '0' : `${errors} (${kinds})`,
        `${fmtBytes(s.bytes)} (${fmtBytes(s.latencies.length ? s.bytes / s.latencies.length : NaN)} each)`,
        `${ms(quantile(sorted, 0.5))} / ${ms(quantile(sorted, 0.99))} / ${ms(sorted[sorted.length - 1] ?? NaN)}`,
      ];
    });
    const clientTable = table(['endpoint', 'requests', 'req/s', 'errors', 'bytes', 'latency p50 / p99 / max'], clientRows);
    const exporterTable = table(
      ['figure', 'value'],
      [
        ['exporter listening / ready after start', `${f(listeningSeconds, 2)} s / ${f(readySeconds, 2)} s`],
        ['window (load, then drained)', `${f(windowSeconds, 1)} s (clients ${f(loadSeconds, 1)} s)`],
        ['probes run / expected', `${count(probes)} / ${count(Math.round(expected))} (${f((100 * probes) / expected, 1)}%)`],
        ['probes failed / skipped', `${failures}${failureReasons ? ` (${failureReasons})` : ''} / ${skipped}`],
        ['schedule lag p50 / p99', `${f(p50.value)} s / ${p99.over ? '>' : ''}${f(p99.value)} s`],
        ['exporter CPU', `${f(cpu1 - cpu0, 1)} s = ${pct(cpu1 - cpu0)}`],
        ['exporter RSS before / max in window / after', `${mb(rss0)} / ${mb(maxRss)} / ${mb(mem.rss)}`],
        ['exporter peak RSS (VmHWM, since start)', mb(mem.hwm)],
        ['exporter open fds after', String(fds)],
        ['client keep-alive connections (max)', String(maxConnected)],
        ['simulator CPU', pct(simCpu1 - simCpu0)],
        ['load generator CPU', pct((bench1.user + bench1.system) / 1e6)],
      ],
    );

    const reasons: string[] = [];
    const totalErrors = [...stats.values()].reduce((sum, s) => sum + s.requests - s.ok, 0);
    if (totalErrors > 0) reasons.push(`${totalErrors} client errors`);
    if (skipped > 0) reasons.push(`${skipped} probes skipped`);
    if (!(probes >= 0.95 * expected)) reasons.push(`only ${f((100 * probes) / expected, 1)}% of the expected probes ran`);
    if (!(p99.value <= 1) || p99.over) reasons.push(`schedule lag p99 ${p99.over ? '>' : ''}${f(p99.value)} s > 1 s`);
    const pass = reasons.length === 0;

    process.stdout.write(
      `\nLoad: ${CLIENTS} clients on /metrics and /api/v1/status for ${DURATION_S} s, ` +
        `${count(N_COMPONENTS)} components probed every ${INTERVAL_S} s (timeout ${PROBE_TIMEOUT_S} s)\n` +
        `machine: ${machine()}\n\n${clientTable}\n\n${exporterTable}\n\n` +
        (failures > 0 ? `note: ${failures} probes failed against a healthy simulator\n` : '') +
        `${pass ? 'PASS' : `FAIL: ${reasons.join('; ')}`}\n`,
    );
    return pass;
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const pass = await main();
  killAllChildren();
  process.exit(pass ? 0 : 1);
} catch (err) {
  exitOnError(err);
}
