// What the blackbox comparison (run.ts) and the load benchmark (load.ts) both do around the
// exporter: clean up their children, log with elapsed seconds, send their own HTTP requests,
// start the simulated cluster in shards and read the exporter's own counters from /metrics.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { nthAddress } from '../src/sim/cluster.js';
import { buckets, cpuSeconds, killAllChildren, parseSamples, sleep, startChild, sumOf, waitForLine, type Child } from './lib.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const EXPORTER = join(ROOT, 'dist/src/main.js');
export const SIM = join(ROOT, 'dist/bench/sim-server.js');
/** The components of every simulated server. */
export const COMPONENTS: readonly { readonly name: string; readonly port: number }[] = [
  { name: 'web', port: 18080 },
  { name: 'service', port: 18081 },
];
export const PROBE_TIMEOUT_S = 5;
/** Components per simulator process: a listener and an inbound connection each must fit its fd limit. */
export const MAX_COMPONENTS_PER_SIM = 8000;

/**
 * The node flags the exporter ships with: those of its bin's shebang
 * (`#!/usr/bin/env -S node FLAGS`, src/main.ts), which the Dockerfile and the units repeat.
 * The benchmarks start the exporter with them, as shipped.
 */
export function shippedFlags(): string[] {
  const shebang = readFileSync(EXPORTER, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(shebang);
  if (!m) throw new Error(`${EXPORTER}: no "#!/usr/bin/env -S node" line`);
  return m[1]!.split(' ').filter(Boolean);
}

/** Throws unless the exporter and the simulator are built. */
export function requireBuild(): void {
  for (const file of [EXPORTER, SIM]) {
    if (!existsSync(file)) throw new Error(`${file} is missing; run npm run build`);
  }
}

// ---------------------------------------------------------------------------------------
// Logging and cleanup

const t0 = performance.now();

/** A line on stderr, after the seconds since the benchmark started. */
export function log(msg: string): void {
  process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);
}

/**
 * Children die with us (on exit, SIGINT and SIGTERM), and the whole run stops after
 * `hardDeadlineSeconds`. `onExit` runs on exit after the children are killed.
 */
export function guardChildren(hardDeadlineSeconds: number, onExit?: () => void): void {
  let cleaningUp = false;
  process.on('exit', () => {
    killAllChildren();
    onExit?.();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (cleaningUp) return;
      cleaningUp = true;
      log(`${sig}: stopping children`);
      killAllChildren();
      process.exit(130);
    });
  }
  setTimeout(() => {
    log(`hard deadline of ${hardDeadlineSeconds} s reached; stopping`);
    killAllChildren();
    process.exit(1);
  }, hardDeadlineSeconds * 1000).unref();
}

/** Logs `err` (with its stack), kills the children and exits with 1. */
export function exitOnError(err: unknown): never {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  killAllChildren();
  process.exit(1);
}

/** The CPU model from /proc/cpuinfo. */
export function cpuModel(): string {
  return /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
}

// ---------------------------------------------------------------------------------------
// The benchmark's own HTTP requests (readiness, scrapes, simulator control), on their own
// agent: not part of any load they measure.

export const http = new Agent({ connections: 8, keepAliveTimeout: 10_000, headersTimeout: 120_000, bodyTimeout: 120_000 });

export interface Fetched {
  readonly status: number;
  readonly text: string;
  readonly bytes: number;
  /** Milliseconds from the request to the end of the body. */
  readonly ms: number;
  /** performance.now() at the end of the body. */
  readonly at: number;
}

export async function get(url: string, timeoutMs = 60_000): Promise<Fetched> {
  const start = performance.now();
  const res = await request(url, { dispatcher: http, signal: AbortSignal.timeout(timeoutMs) });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const at = performance.now();
  return { status: res.statusCode, text: buf.toString('utf8'), bytes: buf.length, ms: at - start, at };
}

/** Polls `url` every `pollMs` until it answers 200; fails after `ms` or when `child` exits. */
export async function waitFor200(url: string, ms: number, child: Child, pollMs = 250): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    if (child.exited) throw new Error(`${child.name} exited\n${child.tail.join('\n')}`);
    try {
      if ((await get(url, 5000)).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(pollMs);
  }
  throw new Error(`${url} not 200 within ${ms / 1000} s\n${child.tail.join('\n')}`);
}

// ---------------------------------------------------------------------------------------
// The simulated cluster, in one or more processes (shards) of at most MAX_COMPONENTS_PER_SIM

export interface Shard {
  readonly child: Child;
  /** Base URL of the shard's control API. */
  readonly control: string;
  /** Its servers are named `${prefix}1`, `${prefix}2`, ... */
  readonly prefix: string;
  /** Global index of its first server. */
  readonly offset: number;
  readonly servers: number;
}

export class Sim {
  constructor(readonly shards: readonly Shard[]) {}

  /** CPU seconds of every shard so far. */
  cpuSeconds(): number {
    this.check();
    return this.shards.reduce((sum, s) => sum + cpuSeconds(s.child.pid), 0);
  }

  /** Throws, with its last output, if a simulator process has died. */
  check(): void {
    for (const s of this.shards) {
      if (s.child.exited) throw new Error(`simulator ${s.child.name} exited:\n${s.child.tail.join('\n')}`);
    }
  }

  /** The server at global index `i`: its name (as configured in the exporter) and its shard. */
  server(i: number): { name: string; shard: Shard } {
    const shard = this.shards.find((s) => i >= s.offset && i < s.offset + s.servers)!;
    return { name: `${shard.prefix}${i - shard.offset + 1}`, shard };
  }

  async stop(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.child.stop()));
  }
}

export interface SimOptions {
  /** Simulated servers, each with every one of COMPONENTS. */
  readonly servers: number;
  /** Address of the first server; the next ones follow (nthAddress). */
  readonly baseAddress: string;
  /** Heartbeat and probe interval of the exporter configuration. */
  readonly intervalSeconds: number;
  /** Where the shards write their exporter configurations. */
  readonly dir: string;
  /** How long the simulator lives at most (default 1200 s): a guard against leftovers, longer for a soak. */
  readonly maxSeconds?: number;
}

/**
 * Starts the simulator shards (dist/bench/sim-server.js), waits for each one's `ready` line
 * and merges the exporter configurations they wrote into one, `configFile`: the first
 * shard's cluster with every shard's servers. `startSeconds` is the slowest shard's start.
 */
export async function startSim(opts: SimOptions): Promise<{ sim: Sim; configFile: string; startSeconds: number }> {
  const { servers, baseAddress, intervalSeconds, dir } = opts;
  const count = Math.ceil((servers * COMPONENTS.length) / MAX_COMPONENTS_PER_SIM);
  const per = Math.ceil(servers / count);
  const shards: Shard[] = [];
  const configs: string[] = [];
  let startSeconds = 0;
  try {
    await Promise.all(
      Array.from({ length: count }, async (_, k) => {
        const offset = k * per;
        const n = Math.min(per, servers - offset);
        const prefix = count === 1 ? 'node-' : `s${k + 1}-node-`;
        const configFile = join(dir, `sim-${k + 1}.yml`);
        const child = await startChild(
          `sim-${k + 1}`,
          process.execPath,
          [
            SIM,
            `--servers=${n}`,
            `--components=${COMPONENTS.map((c) => `${c.name}:${c.port}`).join(',')}`,
            `--base=${nthAddress(baseAddress, offset)}`,
            `--name-prefix=${prefix}`,
            `--exporter-config=${configFile}`,
            `--heartbeat=${intervalSeconds}s`,
            `--timeout=${PROBE_TIMEOUT_S}s`,
            '--stale=1m',
            `--max-seconds=${opts.maxSeconds ?? 1200}`,
          ],
          { stdin: 'pipe', maxSeconds: opts.maxSeconds ?? 1200 },
        );
        shards[k] = { child, control: '', prefix, offset, servers: n };
        const ready = await waitForLine(child, /^ready (.*)$/, 180_000);
        const info = JSON.parse(ready[1]!) as { control: string; startSeconds: number };
        shards[k] = { child, control: info.control, prefix, offset, servers: n };
        configs[k] = configFile;
        startSeconds = Math.max(startSeconds, info.startSeconds);
      }),
    );
  } catch (err) {
    await Promise.all(shards.filter(Boolean).map((s) => s.child.stop()));
    throw err;
  }
  type Doc = { clusters: { servers: unknown[] }[] };
  const docs = configs.map((f) => parseYaml(readFileSync(f, 'utf8')) as Doc);
  const merged = docs[0]!;
  for (const d of docs.slice(1)) merged.clusters[0]!.servers.push(...d.clusters[0]!.servers);
  const configFile = join(dir, 'exporter.yml');
  writeFileSync(configFile, stringifyYaml(merged));
  return { sim: new Sim(shards), configFile, startSeconds };
}

// ---------------------------------------------------------------------------------------
// The exporter's own metrics

export interface OwnCounters {
  /** appcluster_exporter_probes_total, all results. */
  readonly probes: number;
  readonly failures: number;
  readonly skipped: number;
  /** Cumulative buckets of appcluster_exporter_probe_schedule_lag_seconds. */
  readonly lag: Map<number, number>;
  /** appcluster_component_probe_failures_total by reason. */
  readonly reasons: Map<string, number>;
  /** V8 heap used / total and external memory (0 when not in the scrape). */
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
}

const OWN_PREFIXES = [
  'appcluster_exporter_probes',
  'appcluster_exporter_probe_schedule_lag_seconds_bucket',
  'appcluster_component_probe_failures_total',
  'nodejs_heap_size',
  'nodejs_external_memory_bytes',
];

/** The exporter's own probe, schedule lag and memory figures from a /metrics text. */
export function ownCounters(text: string): OwnCounters {
  const s = parseSamples(text, OWN_PREFIXES);
  const reasons = new Map<string, number>();
  for (const x of s) {
    if (x.name !== 'appcluster_component_probe_failures_total') continue;
    const reason = x.labels['reason'] ?? '';
    reasons.set(reason, (reasons.get(reason) ?? 0) + x.value);
  }
  return {
    probes: sumOf(s, 'appcluster_exporter_probes_total'),
    failures: sumOf(s, 'appcluster_exporter_probes_total', { result: 'failure' }),
    skipped: sumOf(s, 'appcluster_exporter_probes_skipped_total'),
    lag: buckets(s, 'appcluster_exporter_probe_schedule_lag_seconds'),
    reasons,
    heapUsed: sumOf(s, 'nodejs_heap_size_used_bytes'),
    heapTotal: sumOf(s, 'nodejs_heap_size_total_bytes'),
    external: sumOf(s, 'nodejs_external_memory_bytes'),
  };
}
