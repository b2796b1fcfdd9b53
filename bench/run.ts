#!/usr/bin/env node
// Benchmark: the exporter against blackbox_exporter on the same simulated targets, in one run.
//
//   npm run bench                                   # 300, 3,000 and 30,000 components
//   npm run bench -- --sizes=300,3000 --window=20   # a quick run
//   npm run bench -- --sizes=30000 --profile=cpu    # also write a CPU profile of the exporter
//
// Per size: a simulated cluster (bench/sim-server.ts, its own process, every server on its own
// loopback address, every component its own listener), then the exporter (its own process)
// probing every component on a 15 s interval, then blackbox_exporter (its own process) sent
// the /probe requests Prometheus would send for the same targets at the same rate. CPU
// (utime+stime) and peak RSS (VmHWM) are read from /proc for each program's own PID.
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { nthAddress } from '../src/sim/cluster.js';
import {
  COMPONENTS,
  EXPORTER,
  MAX_COMPONENTS_PER_SIM,
  PROBE_TIMEOUT_S,
  ROOT,
  Sim,
  cpuModel,
  exitOnError,
  get,
  guardChildren,
  http,
  log,
  ownCounters,
  requireBuild,
  shippedFlags,
  startSim,
  waitFor200,
  type Fetched,
  type Shard,
} from './harness.js';
import {
  bucketDelta,
  cpuSeconds,
  threadCpuSeconds,
  fixed as f,
  fmtBytes,
  fmtMB as mb,
  fmtMs as ms,
  freePort,
  histogramQuantile,
  HARD_NOFILE,
  median,
  memory,
  openFileLimit,
  openFiles,
  parseSamples,
  sleep,
  startChild,
  table,
} from './lib.js';
import { ProbeLoad, type LoadCounters } from './loadgen.js';

const BLACKBOX = 'prometheus-blackbox-exporter';
const BASE_ADDRESS = '127.60.0.1';
const NOTES_MARKER = '<!-- notes: everything below this line is kept when the benchmark rewrites this file -->';

const USAGE = `usage: npm run bench -- [flags]

  --sizes=300,3000,30000   component counts (2 components per simulated server)
  --window=SECONDS         measurement window per size and program (default 45)
  --interval=SECONDS       heartbeat / probe interval (default 15)
  --skip-blackbox          measure the exporter only
  --profile=cpu|heap       run the exporter with --cpu-prof / --heap-prof (files in --profile-dir)
  --profile-dir=DIR        default: $TMPDIR/appcluster-bench-profiles
  --results=FILE           Markdown results file (default bench/RESULTS.md; "" to skip)
  --warmup-probes=N        each program runs N probes (and at least 10 s) before its window opens (default 3000)
  --concurrency=N          most /probe requests in flight to blackbox_exporter (default 256)
  --exporter-node-flags=F  node flags for the exporter after the bin's own, space-separated (e.g. "--max-old-space-size=256")
  --exporter-output=FILE   append every line the exporter prints (e.g. with --trace-gc-nvp), each after the
                           seconds since it started, to FILE
`;

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '300,3000,30000' },
    window: { type: 'string', default: '45' },
    interval: { type: 'string', default: '15' },
    'skip-blackbox': { type: 'boolean', default: false },
    profile: { type: 'string', default: '' },
    'profile-dir': { type: 'string', default: join(tmpdir(), 'appcluster-bench-profiles') },
    results: { type: 'string', default: join(ROOT, 'bench/RESULTS.md') },
    concurrency: { type: 'string', default: '256' },
    'warmup-probes': { type: 'string', default: '3000' },
    'exporter-node-flags': { type: 'string', default: '' },
    'exporter-output': { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const SIZES = flags.sizes.split(',').map((s) => Number(s.replace(/_/g, '')));
const WINDOW_S = Number(flags.window);
const INTERVAL_S = Number(flags.interval);
const CONCURRENCY = Number(flags.concurrency);
const WARMUP_PROBES = Number(flags['warmup-probes']);
if (SIZES.some((n) => !Number.isInteger(n) || n < 2) || !(WINDOW_S >= 5) || !(INTERVAL_S > PROBE_TIMEOUT_S) || !(CONCURRENCY >= 1) || !(WARMUP_PROBES >= 0)) {
  process.stderr.write(`bad flags\n\n${USAGE}`);
  process.exit(2);
}
if (flags.profile && !['cpu', 'heap'].includes(flags.profile)) {
  process.stderr.write(`--profile must be cpu or heap\n\n${USAGE}`);
  process.exit(2);
}

// Children die with us, and the whole run has a hard deadline (30 minutes).
guardChildren(60 * 30);

// ---------------------------------------------------------------------------------------
// Simulator control

async function send(method: 'POST' | 'DELETE', url: string, body: unknown): Promise<void> {
  const res = await request(url, {
    method,
    dispatcher: http,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${url}: HTTP ${res.statusCode} ${text}`);
}

// ---------------------------------------------------------------------------------------
// Measurements

interface ExporterResult {
  startSeconds: number;
  readySeconds: number;
  windowSeconds: number;
  cpuSeconds: number;
  /**
   * The part of `cpuSeconds` on the main thread (JavaScript, the event loop, the GC's pauses);
   * the rest is V8's and libuv's helper threads (concurrent marking and sweeping, compiling).
   */
  mainThreadCpuSeconds: number;
  /** Length of the warm-up before the window, and the exporter's CPU in it (seconds). */
  warmupSeconds: number;
  warmupCpuSeconds: number;
  /** Probes run in the warm-up (the exporter's counter). */
  warmupProbes: number;
  probes: number;
  expectedProbes: number;
  failedProbes: number;
  skipped: number;
  peakRss: number;
  metricsMs: number[];
  metricsBytes: number;
  metricsLines: number;
  lagP50: number;
  lagP99: number;
  lagOver: boolean;
  detectionMetrics: number[];
  detectionLog: number[];
  detectionServers: string[];
  simCpuSeconds: number;
  openFiles: number;
  openFileLimit: number;
  /** V8 heap used / total and external memory at the end of the window (the exporter's own metrics). */
  heapUsed: number;
  heapTotal: number;
  external: number;
}

interface BlackboxResult {
  windowSeconds: number;
  cpuSeconds: number;
  probes: number;
  succeeded: number;
  errors: number;
  dropped: number;
  peakRss: number;
  simCpuSeconds: number;
  benchCpuSeconds: number;
}

interface SizeResult {
  readonly components: number;
  readonly servers: number;
  simStartSeconds: number;
  simProcesses: number;
  exporter?: ExporterResult;
  blackbox?: BlackboxResult;
  error?: string;
}

/** `appcluster_server_online` by server name (only `servers` when given). */
function serverOnline(text: string, servers?: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of parseSamples(text, ['appcluster_server_online{'])) {
    const name = s.labels['server'];
    if (name !== undefined && (!servers || servers.includes(name))) out.set(name, s.value);
  }
  return out;
}

/**
 * Seconds each program runs before its window opens, the same rule for both: WARMUP_PROBES
 * probes at the size's rate, and at least 10 s (within one interval). Node compiles hot code
 * as it goes: at 20 probes a second (300 components) the exporter's CPU per probe kept
 * falling for about 3,000 probes (2.5 minutes), from 1.1 to 0.63 CPU-s per 1,000, and a
 * window that opened at once measured that warm-up instead of what it costs from then on.
 */
function warmupSeconds(components: number): number {
  return Math.max(Math.min(10, INTERVAL_S), Math.ceil(WARMUP_PROBES / (components / INTERVAL_S)));
}

async function measureExporter(size: SizeResult, sim: Sim, configFile: string): Promise<ExporterResult> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // As shipped: the bin's flags, then any the run adds (the later one of a pair wins).
  const nodeFlags: string[] = [...shippedFlags(), ...flags['exporter-node-flags'].split(' ').filter(Boolean)];
  if (flags.profile) {
    mkdirSync(flags['profile-dir'], { recursive: true });
    nodeFlags.push(`--${flags.profile}-prof`, `--${flags.profile}-prof-dir=${flags['profile-dir']}`);
  }
  const started = performance.now();
  const output = flags['exporter-output'];
  // Every line, from the first: `--trace-gc-nvp` prints some before the process is found.
  const keep = output ? { onLine: (line: string) => appendFileSync(output, `${((performance.now() - started) / 1000).toFixed(2)} ${line}\n`) } : {};
  const exporter = await startChild(
    'exporter',
    process.execPath,
    [...nodeFlags, EXPORTER, `--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    keep,
  );
  const offlineLogAt = new Map<string, number>();
  exporter.onLine((line) => {
    const m = /msg="server offline".* server=(\S+)/.exec(line);
    if (m && !offlineLogAt.has(m[1]!)) offlineLogAt.set(m[1]!, performance.now());
  });
  try {
    await waitFor200(`${url}/-/healthy`, 120_000, exporter);
    const startSeconds = (performance.now() - started) / 1000;
    log(`  exporter pid ${exporter.pid} listening after ${startSeconds.toFixed(1)} s; waiting for every component to be probed once`);
    // Polled every 50 ms: the first round probes every component at once, so this is the
    // time to probe them all under --probe.concurrency, not a random share of the interval.
    await waitFor200(`${url}/-/ready`, (INTERVAL_S * 3 + 60) * 1000, exporter, 50);
    const readySeconds = (performance.now() - started) / 1000;
    log(`  exporter ready after ${readySeconds.toFixed(2)} s (${(readySeconds - startSeconds).toFixed(2)} s after listening)`);

    // Warm-up (the same rule as blackbox_exporter's), scraped as Prometheus would.
    const warmup = warmupSeconds(size.components);
    const warm0 = cpuSeconds(exporter.pid);
    const warmProbes0 = ownCounters((await get(`${url}/metrics`)).text).probes;
    log(`  exporter: warm-up ${warmup} s (${WARMUP_PROBES} probes), then measuring for ${WINDOW_S} s (a scrape every ${INTERVAL_S} s, as Prometheus would)`);
    let warmProbes1 = warmProbes0;
    for (let t = 0; t < warmup; t += INTERVAL_S) {
      await sleep(Math.min(INTERVAL_S, warmup - t) * 1000);
      warmProbes1 = ownCounters((await get(`${url}/metrics`)).text).probes;
    }
    const warmupCpu = cpuSeconds(exporter.pid) - warm0;

    // Window: from just after the first scrape to just after the last; scrapes every interval.
    const scrapes: Fetched[] = [];
    const first = await get(`${url}/metrics`);
    scrapes.push(first);
    const cpu0 = threadCpuSeconds(exporter.pid);
    const simCpu0 = sim.cpuSeconds();
    const w0 = performance.now();
    const windowFrom = (w0 - started) / 1000;
    const c0 = ownCounters(first.text);
    let last = first;
    let c1 = c0;
    for (let k = 1; ; k++) {
      const target = w0 + Math.min(k * INTERVAL_S, WINDOW_S) * 1000;
      await sleep(target - performance.now());
      last = await get(`${url}/metrics`);
      scrapes.push(last);
      // Each part of the window on its own: a part unlike the others shows a passing disturbance.
      const cpu = threadCpuSeconds(exporter.pid);
      const before = c1.probes;
      c1 = ownCounters(last.text);
      log(
        `    window +${((performance.now() - w0) / 1000).toFixed(1)} s: ${c1.probes - before} probes; CPU since the window opened ` +
          `${(cpu.all - cpu0.all).toFixed(2)} s, on the main thread ${(cpu.main - cpu0.main).toFixed(2)} s`,
      );
      if (target >= w0 + WINDOW_S * 1000) break;
    }
    const cpu1 = threadCpuSeconds(exporter.pid);
    const simCpu1 = sim.cpuSeconds();
    const windowSeconds = (performance.now() - w0) / 1000;
    const fds = openFiles(exporter.pid);
    if (flags.profile) {
      log(`  profile: the window is ${windowFrom.toFixed(1)} s .. ${((performance.now() - started) / 1000).toFixed(1)} s after the exporter started (profile-summary --from/--to)`);
    }
    // A few more scrapes, for the response time only.
    for (let i = 0; i < 3; i++) {
      await sleep(1000);
      scrapes.push(await get(`${url}/metrics`));
    }
    const lag = bucketDelta(c0.lag, c1.lag);
    const p50 = histogramQuantile(0.5, lag);
    const p99 = histogramQuantile(0.99, lag);

    // Detection: switch servers down, poll /metrics until their server_online reads 0.
    const n = size.servers;
    // Three servers near the quartiles that are online now (the next online one from each).
    const online = serverOnline(last.text);
    const picked: { name: string; shard: Shard }[] = [];
    for (const q of [0.25, 0.5, 0.75]) {
      for (let i = Math.floor(n * q), tries = 0; tries < n; i = (i + 1) % n, tries++) {
        const candidate = sim.server(i);
        if (online.get(candidate.name) === 1 && !picked.some((p) => p.name === candidate.name)) {
          picked.push(candidate);
          break;
        }
      }
    }
    if (picked.length === 0) throw new Error('no server is online: cannot measure detection');
    const picks = picked.map((p) => p.name);
    log(`  detection: switching ${picks.join(', ')} down`);
    const faultAt = new Map<string, number>();
    for (const p of picked) {
      await send('POST', `${p.shard.control}/faults`, { server: p.name, fault: 'down' });
      faultAt.set(p.name, performance.now());
    }
    const detectedAt = new Map<string, number>();
    const detectDeadline = performance.now() + (INTERVAL_S + PROBE_TIMEOUT_S + 30) * 1000;
    // Poll with pauses of at least 3x the last response time (and 250 ms), so that the polling
    // itself adds at most a quarter to the exporter's load: back-to-back renders of a large
    // /metrics would delay the very probes whose result is awaited.
    while (detectedAt.size < picks.length && performance.now() < detectDeadline) {
      const r = await get(`${url}/metrics`);
      for (const [s, v] of serverOnline(r.text, picks)) if (v === 0 && !detectedAt.has(s)) detectedAt.set(s, r.at);
      if (detectedAt.size < picks.length) await sleep(Math.max(250, 3 * r.ms));
    }
    const detectionMetrics = picks.map((s) => (detectedAt.has(s) ? (detectedAt.get(s)! - faultAt.get(s)!) / 1000 : NaN));
    await sleep(1500); // the transition log runs every second
    const detectionLog = picks.map((s) => (offlineLogAt.has(s) ? (offlineLogAt.get(s)! - faultAt.get(s)!) / 1000 : NaN));
    for (const p of picked) await send('DELETE', `${p.shard.control}/faults`, { server: p.name });

    const peakRss = memory(exporter.pid).hwm;
    return {
      startSeconds,
      readySeconds,
      warmupSeconds: warmup,
      warmupCpuSeconds: warmupCpu,
      warmupProbes: warmProbes1 - warmProbes0,
      windowSeconds,
      cpuSeconds: cpu1.all - cpu0.all,
      mainThreadCpuSeconds: cpu1.main - cpu0.main,
      probes: c1.probes - c0.probes,
      expectedProbes: (size.components * windowSeconds) / INTERVAL_S,
      failedProbes: c1.failures - c0.failures,
      skipped: c1.skipped - c0.skipped,
      peakRss,
      metricsMs: scrapes.map((s) => s.ms),
      metricsBytes: last.bytes,
      metricsLines: last.text.split('\n').filter((l) => l && !l.startsWith('#')).length,
      lagP50: p50.value,
      lagP99: p99.value,
      lagOver: p99.over,
      detectionMetrics,
      detectionLog,
      detectionServers: picks,
      simCpuSeconds: simCpu1 - simCpu0,
      openFiles: fds,
      openFileLimit: openFileLimit(exporter.pid),
      heapUsed: c1.heapUsed,
      heapTotal: c1.heapTotal,
      external: c1.external,
    };
  } finally {
    await exporter.stop();
  }
}

function blackboxConfig(): string {
  // The same check as the exporter's: HTTP GET, any 2xx, and the body reports status "ok".
  return [
    'modules:',
    '  http_health:',
    '    prober: http',
    `    timeout: ${PROBE_TIMEOUT_S}s`,
    '    http:',
    '      method: GET',
    '      valid_status_codes: []  # any 2xx',
    '      preferred_ip_protocol: ip4',
    '      ip_protocol_fallback: false',
    '      fail_if_body_not_matches_regexp:',
    `        - '"status":"ok"'`,
    '',
  ].join('\n');
}

async function measureBlackbox(size: SizeResult, sim: Sim, dir: string): Promise<BlackboxResult> {
  const configFile = join(dir, 'blackbox.yml');
  writeFileSync(configFile, blackboxConfig());
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const bb = await startChild('blackbox_exporter', BLACKBOX, [
    `--config.file=${configFile}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ]);
  let load: ProbeLoad | undefined;
  try {
    await waitFor200(`${url}/-/healthy`, 30_000, bb);
    const targets: string[] = [];
    for (let i = 0; i < size.servers; i++) {
      const address = nthAddress(BASE_ADDRESS, i);
      for (const c of COMPONENTS) {
        const target = `http://${address}:${c.port}/health`;
        targets.push(`${url}/probe?module=http_health&target=${encodeURIComponent(target)}`);
      }
    }
    load = new ProbeLoad(targets.slice(0, size.components), INTERVAL_S * 1000, CONCURRENCY, PROBE_TIMEOUT_S);
    load.start();
    const warmup = warmupSeconds(size.components);
    log(`  blackbox_exporter pid ${bb.pid}: sending ${(size.components / INTERVAL_S).toFixed(0)} probes/s; warm-up ${warmup} s, then ${WINDOW_S} s`);
    await sleep(warmup * 1000);
    const c0: LoadCounters = load.snapshot();
    const cpu0 = cpuSeconds(bb.pid);
    const simCpu0 = sim.cpuSeconds();
    const bench0 = process.cpuUsage();
    const w0 = performance.now();
    await sleep(WINDOW_S * 1000);
    const c1: LoadCounters = load.snapshot();
    const cpu1 = cpuSeconds(bb.pid);
    const simCpu1 = sim.cpuSeconds();
    const bench1 = process.cpuUsage(bench0);
    const windowSeconds = (performance.now() - w0) / 1000;
    await load.stop();
    load = undefined;
    return {
      windowSeconds,
      cpuSeconds: cpu1 - cpu0,
      probes: c1.completed - c0.completed,
      succeeded: c1.succeeded - c0.succeeded,
      errors: c1.errors - c0.errors,
      dropped: c1.dropped - c0.dropped,
      peakRss: memory(bb.pid).hwm,
      simCpuSeconds: simCpu1 - simCpu0,
      benchCpuSeconds: (bench1.user + bench1.system) / 1e6,
    };
  } finally {
    await load?.stop(2000);
    await bb.stop();
  }
}

async function measureSize(components: number): Promise<SizeResult> {
  const servers = Math.ceil(components / COMPONENTS.length);
  const size: SizeResult = { components: servers * COMPONENTS.length, servers, simStartSeconds: NaN, simProcesses: 0 };
  const dir = mkdtempSync(join(tmpdir(), 'appcluster-bench-'));
  log(`== ${size.components} components (${servers} servers x ${COMPONENTS.length}) ==`);
  let sim: Sim | undefined;
  try {
    const started = await startSim({ servers, baseAddress: BASE_ADDRESS, intervalSeconds: INTERVAL_S, dir });
    sim = started.sim;
    size.simStartSeconds = started.startSeconds;
    size.simProcesses = sim.shards.length;
    log(
      `  simulator: ${size.components} listeners on ${BASE_ADDRESS}..${nthAddress(BASE_ADDRESS, servers - 1)} in ` +
        `${sim.shards.length} process(es) (pids ${sim.shards.map((s) => s.child.pid).join(', ')}), ${started.startSeconds.toFixed(1)} s`,
    );
    size.exporter = await measureExporter(size, sim, started.configFile);
    report(size, 'exporter');
    if (!flags['skip-blackbox']) {
      size.blackbox = await measureBlackbox(size, sim, dir);
      report(size, 'blackbox');
    }
  } catch (err) {
    size.error = err instanceof Error ? err.message : String(err);
    log(`  FAILED: ${size.error}`);
    await sleep(500);
    for (const s of sim?.shards ?? []) {
      if (s.child.exited) log(`  ${s.child.name} (pid ${s.child.pid}) exited; its last output:\n${s.child.tail.join('\n')}`);
    }
  } finally {
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return size;
}

// ---------------------------------------------------------------------------------------
// Reporting

const pct = (cpu: number, window: number): string => `${f((100 * cpu) / window, 1)}%`;
const perK = (cpu: number, probes: number): number => (probes > 0 ? (1000 * cpu) / probes : NaN);
const secs = (list: readonly number[]): string => list.map((s) => (Number.isFinite(s) ? s.toFixed(1) : 'none')).join(' / ');

function report(size: SizeResult, which: 'exporter' | 'blackbox'): void {
  if (which === 'exporter' && size.exporter) {
    const e = size.exporter;
    log(
      `  exporter: ${e.probes} probes (${f(e.expectedProbes, 0)} expected) in ${f(e.windowSeconds, 1)} s, CPU ${f(e.cpuSeconds, 2)} s ` +
        `(${pct(e.cpuSeconds, e.windowSeconds)}; main thread ${f(e.mainThreadCpuSeconds, 2)} s) = ${f(perK(e.cpuSeconds, e.probes))} s/1k probes, peak RSS ${mb(e.peakRss)}, ` +
        `/metrics ${ms(median(e.metricsMs))} ${fmtBytes(e.metricsBytes)}, lag p50 ${f(e.lagP50)} s p99 ${f(e.lagP99)} s, ` +
        `detection ${secs(e.detectionMetrics)} s (log ${secs(e.detectionLog)} s), ${e.skipped} skipped, ` +
        `heap ${mb(e.heapUsed)} used / ${mb(e.heapTotal)}, ${e.openFiles} fds, ready after ${f(e.readySeconds, 2)} s, ` +
        `warm-up ${e.warmupSeconds} s at ${f(perK(e.warmupCpuSeconds, e.warmupProbes))} s/1k probes`,
    );
  }
  if (which === 'blackbox' && size.blackbox) {
    const b = size.blackbox;
    log(
      `  blackbox: ${b.probes} probes (${b.succeeded} succeeded, ${b.errors} errors, ${b.dropped} dropped) in ${f(b.windowSeconds, 1)} s, ` +
        `CPU ${f(b.cpuSeconds, 2)} s (${pct(b.cpuSeconds, b.windowSeconds)}) = ${f(perK(b.cpuSeconds, b.probes))} s/1k probes, peak RSS ${mb(b.peakRss)}`,
    );
  }
}

function comparisonTable(results: readonly SizeResult[]): string {
  const rows = results.map((r) => {
    const e = r.exporter;
    const b = r.blackbox;
    const ek = e ? perK(e.cpuSeconds, e.probes) : NaN;
    const bk = b ? perK(b.cpuSeconds, b.probes) : NaN;
    return [
      r.components.toLocaleString('en-US'),
      e ? `${e.probes} / ${f(e.windowSeconds, 0)} s` : 'n/a',
      f(ek),
      e ? `${pct(e.cpuSeconds, e.windowSeconds)} (main thread ${pct(e.mainThreadCpuSeconds, e.windowSeconds)})` : 'n/a',
      e ? mb(e.peakRss) : 'n/a',
      b ? `${b.probes} / ${f(b.windowSeconds, 0)} s` : 'n/a',
      f(bk),
      b ? pct(b.cpuSeconds, b.windowSeconds) : 'n/a',
      b ? mb(b.peakRss) : 'n/a',
      Number.isFinite(ek / bk) ? `${f(ek / bk, 2)}x` : 'n/a',
      e && b ? `${f(e.peakRss / b.peakRss, 2)}x` : 'n/a',
    ];
  });
  return table(
    [
      'components',
      'exporter probes',
      'exporter CPU s/1k probes',
      'exporter CPU',
      'exporter peak RSS',
      'blackbox probes',
      'blackbox CPU s/1k probes',
      'blackbox CPU',
      'blackbox peak RSS',
      'CPU/probe ratio',
      'RSS ratio',
    ],
    rows,
  );
}

function exporterTable(results: readonly SizeResult[]): string {
  const rows = results.map((r) => {
    const e = r.exporter;
    if (!e) return [r.components.toLocaleString('en-US'), r.error ? `failed: ${r.error.split('\n')[0]}` : 'n/a', '', '', '', '', '', '', '', '', ''];
    return [
      r.components.toLocaleString('en-US'),
      `${ms(median(e.metricsMs))} (${e.metricsMs.length} scrapes, max ${ms(Math.max(...e.metricsMs))})`,
      `${fmtBytes(e.metricsBytes)} / ${e.metricsLines.toLocaleString('en-US')} series`,
      `${f(e.lagP50)} s / ${e.lagOver ? '>' : ''}${f(e.lagP99)} s`,
      `${e.skipped} / ${e.failedProbes}`,
      `${secs(e.detectionMetrics)} s`,
      `${secs(e.detectionLog)} s`,
      `${f(e.startSeconds, 1)} s / ${f(e.readySeconds, 2)} s`,
      `${e.warmupSeconds} s / ${f(perK(e.warmupCpuSeconds, e.warmupProbes))}`,
      `${e.openFiles} / ${e.openFileLimit}`,
      e.heapTotal > 0 ? `${mb(e.heapUsed)} / ${mb(e.heapTotal)} / ${mb(e.external)}` : 'not in scrape',
    ];
  });
  return table(
    [
      'components',
      '/metrics median',
      '/metrics size',
      'schedule lag p50 / p99',
      'skipped / failed probes',
      'detection (/metrics)',
      'detection (log)',
      'listening / ready',
      'warm-up / its CPU s/1k probes',
      'open fds / limit',
      'V8 heap used / total / external',
    ],
    rows,
  );
}

function contextTable(results: readonly SizeResult[]): string {
  return table(
    ['components', 'sim processes / start', 'sim CPU (exporter phase)', 'sim CPU (blackbox phase)', 'load generator CPU', 'blackbox probe_success'],
    results.map((r) => [
      r.components.toLocaleString('en-US'),
      `${r.simProcesses} / ${f(r.simStartSeconds, 1)} s`,
      r.exporter ? pct(r.exporter.simCpuSeconds, r.exporter.windowSeconds) : 'n/a',
      r.blackbox ? pct(r.blackbox.simCpuSeconds, r.blackbox.windowSeconds) : 'n/a',
      r.blackbox ? pct(r.blackbox.benchCpuSeconds, r.blackbox.windowSeconds) : 'n/a',
      r.blackbox ? `${r.blackbox.succeeded} / ${r.blackbox.probes} (errors ${r.blackbox.errors}, dropped ${r.blackbox.dropped})` : 'n/a',
    ]),
  );
}

type Verdict = 'met' | 'MISSED' | 'not measured';

function targets(results: readonly SizeResult[]): { target: string; verdict: Verdict; measured: string }[] {
  const out: { target: string; verdict: Verdict; measured: string }[] = [];
  const both = results.filter((r) => r.exporter && r.blackbox);
  const ratios = both.map((r) => ({
    n: r.components,
    ratio: perK(r.exporter!.cpuSeconds, r.exporter!.probes) / perK(r.blackbox!.cpuSeconds, r.blackbox!.probes),
  }));
  out.push({
    target: 'CPU per probe at most half of blackbox_exporter (every size)',
    verdict: ratios.length === 0 ? 'not measured' : ratios.every((x) => x.ratio <= 0.5) ? 'met' : 'MISSED',
    measured: ratios.map((x) => `${x.n.toLocaleString('en-US')}: ${f(x.ratio, 2)}x`).join(', '),
  });
  // Issue 17's bounds on peak RSS (VmHWM), without node flags: sizes in between take the next larger bound.
  const rssBounds: readonly [number, number][] = [
    [300, 90e6],
    [3_000, 130e6],
    [30_000, 300e6],
  ];
  const rss = results
    .filter((r) => r.exporter)
    .map((r) => ({ n: r.components, peak: r.exporter!.peakRss, bound: rssBounds.find(([n]) => r.components <= n)?.[1] }))
    .filter((x): x is { n: number; peak: number; bound: number } => x.bound !== undefined);
  const flagged = flags['exporter-node-flags'] !== '';
  out.push({
    target: 'peak RSS at most 90 MB at 300 components, 130 MB at 3,000, 300 MB at 30,000 (no node flags)',
    verdict: rss.length === 0 || flagged ? 'not measured' : rss.every((x) => x.peak <= x.bound) ? 'met' : 'MISSED',
    measured: rss.map((x) => `${x.n.toLocaleString('en-US')}: ${mb(x.peak)} (bound ${mb(x.bound)})`).join(', ') + (flagged ? ' (with --exporter-node-flags)' : ''),
  });
  const big = results.find((r) => r.components >= 30_000 && r.exporter);
  if (!big?.exporter) {
    out.push({ target: '30,000 components at 15 s on one core, RSS under 300 MB', verdict: 'not measured', measured: '' });
    out.push({ target: '/metrics for 30,000 components under 500 ms', verdict: 'not measured', measured: '' });
  } else {
    const e = big.exporter;
    const core = e.cpuSeconds / e.windowSeconds;
    const keptUp = e.probes >= 0.95 * e.expectedProbes && e.skipped === 0 && e.lagP99 <= 1 && !e.lagOver;
    out.push({
      target: '30,000 components at 15 s on one core (CPU <= 100% of a core, >= 95% of scheduled probes run, none skipped, lag p99 <= 1 s), RSS under 300 MB',
      verdict: core <= 1 && keptUp && e.peakRss < 300e6 && INTERVAL_S === 15 ? 'met' : 'MISSED',
      measured: `CPU ${pct(e.cpuSeconds, e.windowSeconds)} of a core, ${e.probes}/${f(e.expectedProbes, 0)} probes, ${e.skipped} skipped, lag p99 ${e.lagOver ? '>' : ''}${f(e.lagP99)} s, peak RSS ${mb(e.peakRss)}`,
    });
    const m = median(e.metricsMs);
    out.push({
      target: '/metrics for 30,000 components under 500 ms (median)',
      verdict: m < 500 ? 'met' : 'MISSED',
      measured: `${ms(m)} (max ${ms(Math.max(...e.metricsMs))}), ${fmtBytes(e.metricsBytes)}`,
    });
  }
  // The first round probes every component at once: ready within a few seconds, however long the interval.
  const ready = results.filter((r) => r.exporter && r.components <= 3000);
  out.push({
    target: '/-/ready within 5 s of start up to 3,000 components (first round at once)',
    verdict: ready.length === 0 ? 'not measured' : ready.every((r) => r.exporter!.readySeconds <= 5) ? 'met' : 'MISSED',
    measured: ready.map((r) => `${r.components.toLocaleString('en-US')}: ${f(r.exporter!.readySeconds, 2)} s`).join(', '),
  });
  const det = results.filter((r) => r.exporter).map((r) => ({ n: r.components, worst: Math.max(...r.exporter!.detectionMetrics.map((x) => (Number.isFinite(x) ? x : Infinity))) }));
  const bound = INTERVAL_S + PROBE_TIMEOUT_S;
  out.push({
    target: `detection within one interval plus the probe timeout (${bound} s), every size`,
    verdict: det.length === 0 ? 'not measured' : det.every((d) => d.worst <= bound) ? 'met' : 'MISSED',
    measured: det.map((d) => `${d.n.toLocaleString('en-US')}: worst ${Number.isFinite(d.worst) ? `${f(d.worst, 1)} s` : 'not detected'}`).join(', '),
  });
  return out;
}

function machine(): Record<string, string> {
  const bb = spawnSync(BLACKBOX, ['--version'], { encoding: 'utf8' });
  return {
    cpus: `${availableParallelism()} (nproc)`,
    'cpu model': cpuModel(),
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    node: process.version,
    blackbox_exporter: `${(bb.stdout || bb.stderr || 'not found').split('\n')[0]}`.trim(),
  };
}

function writeResults(file: string, results: readonly SizeResult[], text: { comparison: string; exporter: string; context: string; verdicts: string }): void {
  let notes = '';
  if (existsSync(file)) {
    const old = readFileSync(file, 'utf8');
    const at = old.indexOf(NOTES_MARKER);
    if (at >= 0) notes = old.slice(at + NOTES_MARKER.length).replace(/^\n+/, '');
  }
  const m = machine();
  const cmd =
    `npm run bench -- --sizes=${SIZES.join(',')} --window=${WINDOW_S}${INTERVAL_S !== 15 ? ` --interval=${INTERVAL_S}` : ''}` +
    `${flags['skip-blackbox'] ? ' --skip-blackbox' : ''}${flags['exporter-node-flags'] ? ` --exporter-node-flags="${flags['exporter-node-flags']}"` : ''}`;
  const md = `# Benchmark results

Latest run: ${new Date().toISOString()}, ${results.map((r) => r.components.toLocaleString('en-US')).join(', ')} components,
${WINDOW_S} s window per size and program, ${INTERVAL_S} s probe interval, ${PROBE_TIMEOUT_S} s probe timeout.

Reproduce (about 13 minutes for the three default sizes; needs \`prometheus-blackbox-exporter\`,
installed by \`node scripts/ensure-deps.mjs --bench\`). Children run under \`ulimit -n\` raised to
200,000 or, without CAP_SYS_RESOURCE, to the hard limit (${HARD_NOFILE} on this machine); the
simulator is split into processes of at most ${MAX_COMPONENTS_PER_SIM.toLocaleString('en-US')} components to fit it:

\`\`\`sh
${cmd}
\`\`\`

## Machine

${Object.entries(m).map(([k, v]) => `- ${k}: ${v}`).join('\n')}

## Exporter against blackbox_exporter, same targets, same rate, same run

CPU is utime+stime of each program's own process over the window (from \`/proc/PID/stat\`);
probes are the exporter's \`appcluster_exporter_probes_total\` delta and, for
blackbox_exporter, the \`/probe\` requests it answered in the window. Peak RSS is \`VmHWM\`.
The exporter's CPU includes a \`/metrics\` scrape every ${INTERVAL_S} s, as Prometheus would send.
Each program's window opens after the same warm-up: ${WARMUP_PROBES.toLocaleString('en-US')} probes at the size's rate, at
least 10 s (\`--warmup-probes\`). Node compiles hot code as it runs, and at 300 components
the exporter's CPU per probe falls for its first ~3,000 probes; the exporter's CPU in its
warm-up is printed under "Exporter details".

${text.comparison}

## Exporter details

${text.exporter}

/metrics median over the scrapes in the window plus 3 more; schedule lag from the
\`appcluster_exporter_probe_schedule_lag_seconds\` bucket delta over the window (interpolated
as \`histogram_quantile\` does). Detection: the servers listed were switched \`down\` through
the simulator's control API, and \`/metrics\` was polled until their \`appcluster_server_online\`
read 0 (the "log" column is when the exporter's "server offline" log line arrived).

## Context

${text.context}

## Targets

${text.verdicts}

${NOTES_MARKER}

${notes}`;
  writeFileSync(file, md.replace(/\n+$/, '\n'));
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  requireBuild();
  if (!flags['skip-blackbox'] && spawnSync('sh', ['-c', `command -v ${BLACKBOX}`]).status !== 0) {
    throw new Error(`${BLACKBOX} not found; install it with: node scripts/ensure-deps.mjs --bench`);
  }
  log(`sizes ${SIZES.join(', ')}; window ${WINDOW_S} s; interval ${INTERVAL_S} s`);
  const results: SizeResult[] = [];
  for (const n of SIZES) results.push(await measureSize(n));

  const text = {
    comparison: comparisonTable(results),
    exporter: exporterTable(results),
    context: contextTable(results),
    verdicts: table(
      ['target', 'verdict', 'measured'],
      targets(results).map((t) => [t.target, t.verdict, t.measured]),
    ),
  };
  process.stdout.write(
    `\nExporter against blackbox_exporter (same targets, same rate, same run)\n\n${text.comparison}\n\n` +
      `Exporter details\n\n${text.exporter}\n\nContext\n\n${text.context}\n\nTargets\n\n${text.verdicts}\n`,
  );
  if (flags.profile) process.stdout.write(`\nProfiles written to ${flags['profile-dir']}\n`);
  if (flags.results) {
    writeResults(flags.results, results, text);
    process.stdout.write(`\nWrote ${flags.results}\n`);
  }
  await http.close();
  if (results.some((r) => r.error)) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  exitOnError(err);
}
