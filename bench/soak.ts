#!/usr/bin/env node
// Soak benchmark (issue 27, item 6): does the exporter stay flat over a long run, the way it
// runs for months? Its memory, open files, handles and timers are sampled while it probes a
// simulated cluster whose servers fail and recover, is reloaded and is scraped.
//
//   npm run bench:soak
//   npm run bench:soak -- --minutes=3 --warmup-minutes=1 --components=600
//
// A simulated cluster (bench/sim-server.ts, on 127.62.x.y so as not to clash with
// `npm run bench` on 127.60 and `npm run bench:load` on 127.61) and the exporter started as
// shipped, probing every component every 15 s. For `--minutes`, on one clock:
//   - every 5 s a gzip scrape of /metrics, as Prometheus sends it;
//   - every 10 s a POST /-/reload; every other one after the file was replaced by the other of
//     two texts that differ in one component's stale_timeout (an edit that only touched a
//     comment would be answered "Unchanged." without a new configuration being applied);
//   - every 30 s the servers faulted 30 s before are switched back and three others switched
//     `down`, `hang` and `slow` through the simulator's control API.
// After every scrape a reading: V8 heap used, active handles and timers from the exporter's
// own /metrics (prom-client's nodejs_heap_size_used_bytes, nodejs_active_handles and
// nodejs_active_resources{type="Timeout"}) and its open files from /proc. Each minute is
// one turn of the load's cycle and gives one level per figure, what a leak would raise: for
// heap, handles and timers, which rest on top of what is in flight at the instant, the
// least value (the floor; for the heap, read as the exporter runs since its runtime is left
// as shipped, without --expose-gc, it stands for the heap after full collections); for open
// files, which dip after each reload that changes the file, the median of the readings a
// probe interval or more after one. Every 30 s a sample prints the levels of the minute
// before and RSS (VmRSS).
//
// The verdict spans the last 20 minutes, or the last two thirds of a shorter run, never the
// warm-up. PASS: the heap floor grew by at most 2 MB over the span (least-squares slope of
// the minute floors times the span), and the levels of open files, active handles and timers
// by at most 5 (median of the span's last three minutes against its first three; fewer in a
// short span). Servers read Offline, in a scrape or in the exporter's log, with no fault on
// them, and reloads are counted and printed, not judged.
// Exit code 0 on PASS, 1 on FAIL (or when the run itself fails).
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { request } from 'undici';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { nthAddress } from '../src/sim/cluster.js';
import {
  COMPONENTS,
  EXPORTER,
  PROBE_TIMEOUT_S,
  cpuModel,
  exitOnError,
  guardChildren,
  http,
  log,
  ownCounters,
  requireBuild,
  shippedFlags,
  startSim,
  waitFor200,
  type OwnCounters,
  type Shard,
  type Sim,
} from './harness.js';
import {
  cpuSeconds,
  fixed as f,
  fmtBytes,
  fmtMB as mb,
  fmtMs as ms,
  freePort,
  killAllChildren,
  median,
  memory,
  openFiles,
  parseSamples,
  sleep,
  startChild,
  sumOf,
  table,
  type Child,
} from './lib.js';

const BASE_ADDRESS = '127.62.0.1';
/** Heartbeat and probe interval, as the issue's soak asks. */
const INTERVAL_S = 15;
const SCRAPE_S = 5;
const RELOAD_S = 10;
const SWITCH_S = 30;
const SAMPLE_EVERY = 30 / SCRAPE_S;
const SCRAPES_PER_MINUTE = 60 / SCRAPE_S;
/**
 * Offsets of the reloads and fault switches from the scrapes' clock: a sample (taken right
 * after a scrape) then always finds them in the same phase, not one that has just begun.
 */
const RELOAD_PHASE_S = 2.5;
const SWITCH_PHASE_S = 1;
const FAULT_KINDS = ['down', 'hang', 'slow'] as const;
type FaultKind = (typeof FAULT_KINDS)[number];
/**
 * How long after its fault was cleared a server may still read Offline: a probe that was
 * hanging when the fault cleared fails at its timeout, the next one comes within an interval,
 * then a round folds it in and a scrape shows it.
 */
const GRACE_MS = (INTERVAL_S + 2 * PROBE_TIMEOUT_S + 5) * 1000;
const SPAN_MAX_MINUTES = 20;
const HEAP_GROWTH_LIMIT = 2e6;
const COUNT_GROWTH_LIMIT = 5;
/** Seconds from the simulator's start to the first scrape, at most (the exporter's start and first round). */
const START_ALLOWANCE_S = 120;

const USAGE = `usage: npm run bench:soak -- [flags]

  --components=N        simulated components, 2 per server (default 3000)
  --minutes=N           length of the run in whole minutes, after the exporter is ready (default 30)
  --warmup-minutes=N    minutes at the start that the verdict never spans (default 5)
  --results=FILE        append a Markdown section with the figures to FILE (default: no file)

The verdict spans the last ${SPAN_MAX_MINUTES} minutes, or the last two thirds of a shorter run, after the warm-up.
`;

const { values: flags } = parseArgs({
  options: {
    components: { type: 'string', default: '3000' },
    minutes: { type: 'string', default: '30' },
    'warmup-minutes': { type: 'string', default: '5' },
    results: { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const SERVERS = Math.ceil(Number(flags.components.replace(/_/g, '')) / COMPONENTS.length);
const N_COMPONENTS = SERVERS * COMPONENTS.length;
const MINUTES = Number(flags.minutes);
const WARMUP_MINUTES = Number(flags['warmup-minutes']);
/** Whole minutes the verdict spans, ending with the run. */
const SPAN_MINUTES = Math.min(SPAN_MAX_MINUTES, Math.floor((2 * MINUTES) / 3), MINUTES - WARMUP_MINUTES);
// Each switch needs servers other than the ones it switches back.
if (!Number.isInteger(SERVERS) || SERVERS < 2 * FAULT_KINDS.length + 1 || !Number.isInteger(MINUTES) || !Number.isInteger(WARMUP_MINUTES) || WARMUP_MINUTES < 0 || !(SPAN_MINUTES >= 2)) {
  process.stderr.write(`bad flags (at least ${(2 * FAULT_KINDS.length + 1) * COMPONENTS.length} components, and a run whose span after the warm-up is at least 2 minutes)\n\n${USAGE}`);
  process.exit(2);
}
/** The run's temporary directory (simulator and exporter configs), removed on any exit. */
let tmpDir: string | undefined;
guardChildren(MINUTES * 60 + START_ALLOWANCE_S + 600, () => {
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// The load: scrapes, reloads, fault switches

interface Scrape {
  /** performance.now() at the request and at the end of the body. */
  readonly start: number;
  readonly end: number;
  /** The decompressed text; empty when the scrape failed. */
  readonly text: string;
  readonly gzipBytes: number;
  readonly error?: string;
}

async function scrape(url: string): Promise<Scrape> {
  const start = performance.now();
  try {
    const res = await request(`${url}/metrics`, { dispatcher: http, headers: { 'accept-encoding': 'gzip' }, signal: AbortSignal.timeout(30_000) });
    const body = Buffer.from(await res.body.arrayBuffer());
    const end = performance.now();
    if (res.statusCode !== 200) return { start, end, text: '', gzipBytes: 0, error: `HTTP ${res.statusCode}` };
    if (res.headers['content-encoding'] !== 'gzip') return { start, end, text: '', gzipBytes: 0, error: 'not gzipped' };
    return { start, end, text: (await promisify(gunzip)(body)).toString('utf8'), gzipBytes: body.length };
  } catch (err) {
    const e = err as { code?: unknown; name?: unknown };
    return { start, end: performance.now(), text: '', gzipBytes: 0, error: e.name === 'TimeoutError' ? 'timeout' : String(e.code ?? e.name ?? 'error') };
  }
}

/** POST /-/reload: its status and first line, or the request's error. */
async function reload(url: string): Promise<{ status: number; answer: string; ms: number }> {
  const start = performance.now();
  try {
    const res = await request(`${url}/-/reload`, { method: 'POST', dispatcher: http, signal: AbortSignal.timeout(60_000) });
    const text = await res.body.text();
    return { status: res.statusCode, answer: text.split('\n', 1)[0] ?? '', ms: performance.now() - start };
  } catch (err) {
    const e = err as { code?: unknown; name?: unknown };
    return { status: 0, answer: String(e.code ?? e.name ?? 'error'), ms: performance.now() - start };
  }
}

/** The simulator's control API (src/sim/control.ts); a failure stops the benchmark, whose faults would be unknown. */
async function control(method: 'POST' | 'DELETE', shard: Shard, body: Record<string, string>): Promise<void> {
  const res = await request(`${shard.control}/faults`, {
    method,
    dispatcher: http,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${method} ${shard.control}/faults ${JSON.stringify(body)}: HTTP ${res.statusCode} ${text}`);
}

/** The configuration as startSim wrote it, and the same with one component's stale_timeout changed. */
function configTexts(file: string): [string, string] {
  const a = readFileSync(file, 'utf8');
  const doc = parseYaml(a) as { clusters: { components: Record<string, unknown>[] }[] };
  const component = doc.clusters[0]!.components[COMPONENTS.length - 1]!;
  component['stale_timeout'] = '90s';
  return [a, stringifyYaml(doc)];
}

/** Replaced whole, as a deploy tool does, so a reload never reads half a file. */
function replaceFile(file: string, text: string): void {
  writeFileSync(`${file}.new`, text);
  renameSync(`${file}.new`, file);
}

// ---------------------------------------------------------------------------------------
// What the scrapes show

interface Episode {
  readonly server: string;
  readonly kind: FaultKind;
  /** performance.now() before the fault was switched on, and after it was switched off. */
  readonly on: number;
  off?: number;
  /** A scrape while the fault was on read the server Offline. */
  seenOffline: boolean;
}

interface OwnFigures {
  readonly counters: OwnCounters;
  readonly abandoned: Map<string, number>;
}

/** What one scrape shows of the exporter, and its open files right after. */
interface Reading {
  readonly heap: number;
  readonly fds: number;
  readonly handles: number;
  readonly timers: number;
  /**
   * At least one probe interval had passed since the file last changed. A reload that
   * changes it replaces every probe's connection pool, and the open files dip until each
   * endpoint has been probed again.
   */
  readonly settled: boolean;
}

/**
 * What stays of each figure over a minute, the level a leak would raise. Heap, handles and
 * timers rest on top of what is in flight at the instant (a scrape's garbage, a batch of
 * probes with their sockets and deadline timers): their least value, the floor. Open files
 * follow the reloads' cycle instead: their median once settled.
 */
interface Levels {
  readonly heap: number;
  readonly fds: number;
  readonly handles: number;
  readonly timers: number;
}

interface Sample extends Levels {
  /** Seconds since the first scrape. */
  readonly t: number;
  readonly rss: number;
  readonly probeFailures: number;
  readonly falseOffline: number;
  readonly reloads: string;
}

const episodes = new Map<string, Episode[]>();
/** Servers read Offline with no fault of theirs to explain it, and whether each one's last reading was such. */
const falseOffline = { transitions: 0, readings: 0, servers: new Set<string>() };
const inFalseOffline = new Set<string>();

/** Whether a fault on `server` explains an Offline reading in a scrape from `start` to `end`. */
function excused(server: string, start: number, end: number): boolean {
  return (episodes.get(server) ?? []).some((e) => e.on <= end && (e.off === undefined || e.off + GRACE_MS >= start));
}

function judgeOnline(s: Scrape, online: readonly { server: string; value: number }[]): void {
  for (const { server, value } of online) {
    if (value !== 0) {
      inFalseOffline.delete(server);
      continue;
    }
    for (const e of episodes.get(server) ?? []) if (e.on <= s.end && (e.off === undefined || e.off >= s.start)) e.seenOffline = true;
    if (excused(server, s.start, s.end)) {
      inFalseOffline.delete(server);
      continue;
    }
    falseOffline.readings++;
    falseOffline.servers.add(server);
    if (!inFalseOffline.has(server)) {
      falseOffline.transitions++;
      inFalseOffline.add(server);
      log(`  false Offline: ${server} (no fault on it in the last ${GRACE_MS / 1000} s)`);
    }
  }
}

const ONLINE = 'appcluster_server_online';
/** What the exporter logs at warn for a faulted server; anything else it logs at warn or above is worth a look. */
const EXPECTED_LOG = 'warn server offline';
const SCRAPE_PREFIXES = [`${ONLINE}{`, 'nodejs_heap_size_used_bytes', 'nodejs_active_handles', 'nodejs_active_resources'];

/** Probes the exporter gave up as its own fault, by cause. */
function abandoned(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of parseSamples(text, ['appcluster_exporter_probes_abandoned_total'])) out.set(s.labels['cause'] ?? '', s.value);
  return out;
}

// ---------------------------------------------------------------------------------------
// Figures

/** Least-squares slope of y over x. */
function slope(points: readonly (readonly [number, number])[]): number {
  const ok = points.filter(([, y]) => Number.isFinite(y));
  if (ok.length < 2) return NaN;
  const mx = ok.reduce((a, [x]) => a + x, 0) / ok.length;
  const my = ok.reduce((a, [, y]) => a + y, 0) / ok.length;
  const sxy = ok.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = ok.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxy / sxx;
}

function finiteMedian(values: readonly number[]): number {
  return median(values.filter(Number.isFinite));
}

/** Nearest-rank quantile. */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const count = (n: number): string => n.toLocaleString('en-US');
const signedMB = (n: number): string => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${mb(n)}` : 'n/a');
const signed = (n: number): string => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${f(n, 1)}` : 'n/a');

// ---------------------------------------------------------------------------------------

interface Report {
  readonly pass: boolean;
  readonly text: string;
}

async function main(): Promise<Report> {
  requireBuild();
  const dir = mkdtempSync(join(tmpdir(), 'appcluster-soak-'));
  tmpDir = dir;
  const children: Child[] = [];
  try {
    log(`${count(N_COMPONENTS)} components (${count(SERVERS)} servers x ${COMPONENTS.length}), ${MINUTES} minutes, warm-up ${WARMUP_MINUTES}, verdict over the last ${SPAN_MINUTES}`);
    const { sim, configFile } = await startSim({ servers: SERVERS, baseAddress: BASE_ADDRESS, intervalSeconds: INTERVAL_S, dir, maxSeconds: MINUTES * 60 + START_ALLOWANCE_S + 300 });
    children.push(...sim.shards.map((s) => s.child));
    log(`  simulator: ${BASE_ADDRESS}..${nthAddress(BASE_ADDRESS, SERVERS - 1)} in ${sim.shards.length} process(es)`);
    const texts = configTexts(configFile);

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    /** The exporter's lines (warn and above) by level and message; "server offline" ones for servers no fault explains. */
    const logged = new Map<string, number>();
    const falseOfflineLogged = new Set<string>();
    let falseOfflineLines = 0;
    const onLine = (line: string): void => {
      const m = /level=(\w+) msg="([^"]*)"/.exec(line);
      const key = m ? `${m[1]} ${m[2]}` : 'unparsed';
      logged.set(key, (logged.get(key) ?? 0) + 1);
      // The log shows an Offline spell too short for a scrape to catch.
      const offline = /msg="server offline".* server=(\S+)/.exec(line);
      const now = performance.now();
      if (offline && !excused(offline[1]!, now, now)) {
        falseOfflineLines++;
        falseOfflineLogged.add(offline[1]!);
        log(`  false Offline logged: ${offline[1]} (no fault on it in the last ${GRACE_MS / 1000} s)`);
      }
    };
    const exporter = await startChild(
      'exporter',
      process.execPath,
      [...shippedFlags(), EXPORTER, `--config.file=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-lifecycle', '--log.level=warn'],
      { maxSeconds: MINUTES * 60 + START_ALLOWANCE_S + 300, onLine },
    );
    children.push(exporter);
    await waitFor200(`${url}/-/healthy`, 120_000, exporter);
    await waitFor200(`${url}/-/ready`, (INTERVAL_S * 3 + 60) * 1000, exporter);
    log(`  exporter pid ${exporter.pid} ready on ${url}; ${MINUTES} minutes of scrapes every ${SCRAPE_S} s, reloads every ${RELOAD_S} s, fault switches every ${SWITCH_S} s`);

    const t0 = performance.now() + 1000;
    const end = t0 + MINUTES * 60_000;
    const cpu0 = cpuSeconds(exporter.pid);
    let stopped: unknown;
    /** Waits until `at`; false when the run was stopped meanwhile. */
    const until = async (at: number): Promise<boolean> => {
      for (;;) {
        if (stopped !== undefined) return false;
        const left = at - performance.now();
        if (left <= 0) return true;
        await sleep(Math.min(left, 1000));
      }
    };
    const checkChildren = (): void => {
      sim.check();
      if (exporter.exited) throw new Error(`the exporter exited\n${exporter.tail.join('\n')}`);
    };

    // Scrapes, and a sample after every sixth.
    const readings: Reading[] = [];
    /** The levels of the readings k in [from, to). */
    const levels = (from: number, to: number): Levels => {
      const window = readings.slice(Math.max(0, from), to).filter(Boolean);
      const least = (pick: (r: Reading) => number): number => {
        const values = window.map(pick).filter(Number.isFinite);
        return values.length ? Math.min(...values) : NaN;
      };
      const fds = finiteMedian(window.filter((r) => r.settled).map((r) => r.fds));
      return { heap: least((r) => r.heap), fds, handles: least((r) => r.handles), timers: least((r) => r.timers) };
    };
    /** performance.now() when the last reload that changed the file was answered. */
    let changedAt = -Infinity;
    const scrapeMs: number[] = [];
    const gzipBytes: number[] = [];
    const scrapeErrors = new Map<string, number>();
    const samples: Sample[] = [];
    /** The exporter's own counters at the first and the latest answered scrape. */
    const own: { first?: OwnFigures; last?: OwnFigures } = {};
    const reloads = { changed: 0, unchanged: 0, failed: 0, other: 0, unexpected: 0, ms: [] as number[] };
    const reloadSummary = (): string => `${reloads.changed + reloads.unchanged} / ${reloads.failed}${reloads.other ? ` / ${reloads.other} other` : ''}`;
    const scrapes = async (): Promise<void> => {
      for (let k = 0; k <= MINUTES * SCRAPES_PER_MINUTE; k++) {
        if (!(await until(t0 + k * SCRAPE_S * 1000))) return;
        const s = await scrape(url);
        let heap = NaN;
        let handles = NaN;
        let timers = NaN;
        if (s.error) {
          scrapeErrors.set(s.error, (scrapeErrors.get(s.error) ?? 0) + 1);
        } else {
          scrapeMs.push(s.end - s.start);
          gzipBytes.push(s.gzipBytes);
          const parsed = parseSamples(s.text, SCRAPE_PREFIXES);
          heap = sumOf(parsed, 'nodejs_heap_size_used_bytes');
          handles = sumOf(parsed, 'nodejs_active_handles');
          timers = sumOf(parsed, 'nodejs_active_resources', { type: 'Timeout' });
          judgeOnline(
            s,
            parsed.filter((p) => p.name === ONLINE).map((p) => ({ server: p.labels['server'] ?? '', value: p.value })),
          );
          own.last = { counters: ownCounters(s.text), abandoned: abandoned(s.text) };
          own.first ??= own.last;
        }
        const now = performance.now();
        readings[k] = { heap, fds: openFiles(exporter.pid), handles, timers, settled: now - changedAt >= INTERVAL_S * 1000 };
        if (k === 0 || k % SAMPLE_EVERY !== 0) continue;
        checkChildren();
        const sample: Sample = {
          t: k * SCRAPE_S,
          ...levels(k - SCRAPES_PER_MINUTE, k),
          rss: memory(exporter.pid).rss,
          probeFailures: own.first && own.last ? own.last.counters.failures - own.first.counters.failures : NaN,
          falseOffline: falseOffline.transitions,
          reloads: reloadSummary(),
        };
        samples.push(sample);
        log(
          `  ${f(sample.t / 60, 1)} min: levels of the last minute: heap ${mb(sample.heap)}, open files ${sample.fds}, handles ${sample.handles}, ` +
            `timers ${sample.timers}; RSS ${mb(sample.rss)}, probe failures ${sample.probeFailures}, false Offline ${sample.falseOffline}, reloads 200 / 500 ${sample.reloads}`,
        );
      }
    };

    // Reloads: every other one after the file was replaced by the other text.
    let running = 0;
    const reloader = async (): Promise<void> => {
      for (let k = 0; ; k++) {
        const at = t0 + (k * RELOAD_S + RELOAD_PHASE_S) * 1000;
        if (at >= end || !(await until(at))) return;
        const change = k % 2 === 0;
        if (change) {
          running = 1 - running;
          replaceFile(configFile, texts[running]!);
        }
        const r = await reload(url);
        reloads.ms.push(r.ms);
        if (r.status === 200 && r.answer.startsWith('Reloaded')) {
          reloads.changed++;
          changedAt = performance.now();
        }
        else if (r.status === 200 && r.answer.startsWith('Unchanged')) reloads.unchanged++;
        else if (r.status === 500) reloads.failed++;
        else reloads.other++;
        if (r.status === 200 && !r.answer.startsWith(change ? 'Reloaded' : 'Unchanged')) {
          reloads.unexpected++;
          log(`  reload after ${change ? 'a changed' : 'an unchanged'} file answered ${r.status} ${r.answer}`);
        } else if (r.status !== 200) {
          log(`  reload answered ${r.status} ${r.answer}`);
        }
      }
    };

    // Fault switches: the previous servers back, three others faulted.
    let cursor = 0;
    // A step coprime with the number of servers visits them all before any comes again.
    let step = Math.max(1, Math.floor(SERVERS * 0.618));
    const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
    while (gcd(step, SERVERS) !== 1) step++;
    const switcher = async (): Promise<void> => {
      let previous: { shard: Shard; episode: Episode }[] = [];
      for (let k = 0; ; k++) {
        const at = t0 + (k * SWITCH_S + SWITCH_PHASE_S) * 1000;
        if (at >= end || !(await until(at))) return;
        for (const p of previous) {
          await control('DELETE', p.shard, { server: p.episode.server });
          p.episode.off = performance.now();
        }
        const before = new Set(previous.map((p) => p.episode.server));
        previous = [];
        for (const kind of FAULT_KINDS) {
          let server: ReturnType<Sim['server']>;
          do {
            cursor = (cursor + step) % SERVERS;
            server = sim.server(cursor);
          } while (before.has(server.name) || previous.some((p) => p.episode.server === server.name));
          const episode: Episode = { server: server.name, kind, on: performance.now(), seenOffline: false };
          const list = episodes.get(server.name) ?? [];
          list.push(episode);
          episodes.set(server.name, list);
          await control('POST', server.shard, { server: server.name, fault: kind });
          previous.push({ shard: server.shard, episode });
        }
      }
    };

    const results = await Promise.allSettled(
      [scrapes(), reloader(), switcher()].map((p) =>
        p.catch((err: unknown) => {
          stopped ??= err;
          throw err;
        }),
      ),
    );
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    checkChildren();
    const cpu = cpuSeconds(exporter.pid) - cpu0;
    const hwm = memory(exporter.pid).hwm;
    const { first, last } = own;
    if (!first || !last) throw new Error('no scrape succeeded');
    const [c0, c1] = [first.counters, last.counters];

    // The span: the last SPAN_MINUTES minutes, each minute one turn of the load's cycle
    // (faults switch every 30 s, the file changes every 20 s).
    const spanFrom = (MINUTES - SPAN_MINUTES) * 60;
    const perMinute: Levels[] = [];
    for (let m = MINUTES - SPAN_MINUTES; m < MINUTES; m++) perMinute.push(levels(m * SCRAPES_PER_MINUTE, (m + 1) * SCRAPES_PER_MINUTE));
    const span = samples.filter((s) => s.t >= spanFrom);
    const rssFit = slope(span.map((s) => [s.t / 60, s.rss])) * SPAN_MINUTES;
    const rssDiff = span[span.length - 1]!.rss - span[0]!.rss;
    /** Minutes whose levels are taken (their median) at each end of the span for the counts: fewer than three in a short span. */
    const endsK = Math.min(3, Math.floor(SPAN_MINUTES / 2));
    const growth = (pick: (r: Levels) => number) => {
      const values = perMinute.map(pick);
      const from = finiteMedian(values.slice(0, endsK));
      const to = finiteMedian(values.slice(-endsK));
      return {
        first: values[0]!,
        last: values[values.length - 1]!,
        fit: slope(values.map((v, i) => [i, v])) * SPAN_MINUTES,
        from,
        to,
        ends: to - from,
        min: Math.min(...values),
        max: Math.max(...values),
      };
    };
    const heap = growth((r) => r.heap);
    const counts = { 'open files': growth((r) => r.fds), 'active handles': growth((r) => r.handles), timers: growth((r) => r.timers) };

    // Verdict
    const reasons: string[] = [];
    if (!(heap.fit <= HEAP_GROWTH_LIMIT)) reasons.push(`heap floor grew ${signedMB(heap.fit)} (fit) over ${SPAN_MINUTES} minutes`);
    for (const [name, c] of Object.entries(counts)) {
      if (!(c.ends <= COUNT_GROWTH_LIMIT)) reasons.push(`${name} grew ${signed(c.ends)}`);
    }
    const pass = reasons.length === 0;
    const rule =
      `PASS when, over the last ${SPAN_MINUTES} minutes, the heap floor grew by at most ${mb(HEAP_GROWTH_LIMIT)} ` +
      `(least-squares slope of the minute floors x ${SPAN_MINUTES} minutes), and the levels of open files, active handles and timers ` +
      `by at most ${COUNT_GROWTH_LIMIT} (median of the span's last ${endsK} minutes minus median of its first ${endsK}). ` +
      `A minute's level: the least of its ${SCRAPES_PER_MINUTE} readings for heap, handles and timers; for open files the median of ` +
      `its readings taken ${INTERVAL_S} s or more after the file last changed.`;

    // Tables
    const sampleTable = table(
      ['min', 'phase', 'heap floor', 'open files (settled)', 'handles floor', 'timers floor', 'RSS', 'probe failures', 'false Offline', 'reloads 200 / 500'],
      samples.map((s) => [
        f(s.t / 60, 1),
        s.t >= spanFrom ? 'span' : s.t <= WARMUP_MINUTES * 60 ? 'warm-up' : '',
        mb(s.heap),
        String(s.fds),
        String(s.handles),
        String(s.timers),
        mb(s.rss),
        count(s.probeFailures),
        String(s.falseOffline),
        s.reloads,
      ]),
    );
    const growthTable = table(
      ['over the span', 'first minute', 'last minute', 'growth (fit)', 'growth (last - first)', `growth (median of ${endsK} at each end)`, 'min / max'],
      [
        ['heap floor', mb(heap.first), mb(heap.last), signedMB(heap.fit), signedMB(heap.last - heap.first), signedMB(heap.ends), `${mb(heap.min)} / ${mb(heap.max)}`],
        ...Object.entries(counts).map(([name, c]) => [name === 'open files' ? 'open files (settled)' : `${name} floor`, String(c.first), String(c.last), signed(c.fit), signed(c.last - c.first), signed(c.ends), `${c.min} / ${c.max}`]),
        ['RSS (30 s samples)', mb(span[0]!.rss), mb(span[span.length - 1]!.rss), signedMB(rssFit), signedMB(rssDiff), '', `${mb(Math.min(...span.map((s) => s.rss)))} / ${mb(Math.max(...span.map((s) => s.rss)))}`],
      ],
    );
    const reasonsDelta = [...c1.reasons]
      .map(([reason, n]) => [reason, n - (c0.reasons.get(reason) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => `${reason}: ${count(n)}`)
      .join(', ');
    const abandonedDelta = [...last.abandoned].map(([cause, n]) => `${cause}: ${n - (first.abandoned.get(cause) ?? 0)}`).join(', ');
    const all = [...episodes.values()].flat();
    const faultFigures = FAULT_KINDS.map((kind) => {
      const mine = all.filter((e) => e.kind === kind && e.off !== undefined);
      return `${kind} ${mine.length} (${mine.filter((e) => e.seenOffline).length} seen Offline)`;
    }).join(', ');
    const errors = [...scrapeErrors].map(([k, n]) => `${k}: ${n}`).join(', ');
    const runTable = table(
      ['figure', 'value'],
      [
        ['scrapes (gzip): answered / failed', `${scrapeMs.length} / ${[...scrapeErrors.values()].reduce((a, b) => a + b, 0)}${errors ? ` (${errors})` : ''}`],
        ['scrape latency p50 / p99 / max', `${ms(quantile(scrapeMs, 0.5))} / ${ms(quantile(scrapeMs, 0.99))} / ${ms(Math.max(...scrapeMs))}`],
        ['scrape size (gzip, median)', fmtBytes(median(gzipBytes))],
        ['reloads: 200 Reloaded / 200 Unchanged / 500 / other', `${reloads.changed} / ${reloads.unchanged} / ${reloads.failed} / ${reloads.other}`],
        ['reloads answered unlike their file (changed: Reloaded, same: Unchanged)', String(reloads.unexpected)],
        ['reload latency p50 / max', `${ms(quantile(reloads.ms, 0.5))} / ${ms(Math.max(...reloads.ms))}`],
        ['fault episodes ended (switched back), by kind', faultFigures],
        ['false Offline in scrapes: transitions / readings / servers (expected 0)', `${falseOffline.transitions} / ${falseOffline.readings} / ${falseOffline.servers.size}`],
        ['false Offline in the log: "server offline" lines / servers (expected 0)', `${falseOfflineLines} / ${falseOfflineLogged.size}`],
        ['probes run / failed / skipped', `${count(c1.probes - c0.probes)} / ${count(c1.failures - c0.failures)} / ${count(c1.skipped - c0.skipped)}`],
        ['probe failures by reason', reasonsDelta || 'none'],
        ["probes abandoned as the exporter's own fault, by cause (expected 0)", abandonedDelta || 'n/a'],
        ['exporter CPU', `${f(cpu, 1)} s = ${f((100 * cpu) / (MINUTES * 60), 1)}% of a core`],
        ['exporter peak RSS (VmHWM, since start)', mb(hwm)],
        ['exporter log lines (warn and above), by level and message', [...logged].map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'],
      ],
    );
    const notes: string[] = [];
    if (falseOffline.transitions > 0) notes.push(`note: ${falseOffline.transitions} false Offline transitions (${[...falseOffline.servers].slice(0, 5).join(', ')})`);
    if (reloads.failed + reloads.other + reloads.unexpected > 0) notes.push('note: reloads that did not answer as expected (above)');
    if (scrapeErrors.size > 0) notes.push('note: scrapes failed (above)');
    if (falseOfflineLines > 0) notes.push(`note: "server offline" logged for servers without a fault (${[...falseOfflineLogged].slice(0, 5).join(', ')})`);
    if ([...logged.keys()].some((k) => k !== EXPECTED_LOG)) notes.push(`note: the exporter logged more than "${EXPECTED_LOG}" (above)`);

    const text =
      `Soak: ${count(N_COMPONENTS)} components probed every ${INTERVAL_S} s for ${MINUTES} minutes (warm-up ${WARMUP_MINUTES}); ` +
      `a gzip scrape every ${SCRAPE_S} s, a reload every ${RELOAD_S} s (every other one after the file changed), ` +
      `${FAULT_KINDS.join(' / ')} switched onto three other servers every ${SWITCH_S} s\n` +
      `machine: nproc ${availableParallelism()}, ${cpuModel()}, node ${process.version}\n\n` +
      `Samples every 30 s (levels of the minute before, from a reading after each scrape: floors are the least, open files settled the median; ` +
      `RSS at the sample; probe failures, false Offline and reloads since the first scrape)\n\n${sampleTable}\n\n` +
      `Growth over the last ${SPAN_MINUTES} minutes\n\n${growthTable}\n\n${runTable}\n\n` +
      (notes.length ? `${notes.join('\n')}\n\n` : '') +
      `${rule}\n${pass ? 'PASS' : `FAIL: ${reasons.join('; ')}`}\n`;
    return { pass, text };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const { pass, text } = await main();
  process.stdout.write(`\n${text}`);
  if (flags.results) {
    const cmd = `npm run bench:soak -- --components=${N_COMPONENTS} --minutes=${MINUTES} --warmup-minutes=${WARMUP_MINUTES}`;
    appendFileSync(flags.results, `\n## Soak, ${new Date().toISOString()}\n\n\`\`\`sh\n${cmd}\n\`\`\`\n\n${text.replace(/^(PASS|FAIL)/m, '**$1**')}`);
    process.stdout.write(`\nAppended to ${flags.results}\n`);
  }
  killAllChildren();
  process.exit(pass ? 0 : 1);
} catch (err) {
  exitOnError(err);
}
