// Helpers for the benchmark: child processes with raised fd limits and a bounded life,
// per-process CPU and memory from /proc, Prometheus text parsing and histogram quantiles.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** User plus system CPU seconds a process has used so far (all its threads, ended ones too). */
export function cpuSeconds(pid: number): number {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/**
 * CPU seconds (user plus system) of a process (`all`, as `cpuSeconds`) and of its main
 * thread, the one whose id is the process's. In Node the other threads are V8's platform
 * workers (concurrent marking and sweeping, compilation) and libuv's pool; they are all named
 * "node", so only the main thread can be told apart.
 */
export function threadCpuSeconds(pid: number): { all: number; main: number } {
  return { all: cpuSeconds(pid), main: statCpuSeconds(`/proc/${pid}/task/${pid}/stat`) };
}

function statCpuSeconds(path: string): number {
  const stat = readFileSync(path, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** The soft open-file limit of a process. */
export function openFileLimit(pid: number): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  return Number(/^Max open files\s+(\S+)/m.exec(limits)?.[1] ?? NaN);
}

/** Open file descriptors of a process now. */
export function openFiles(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Resident set size now and its peak (VmHWM), in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Child {
  readonly name: string;
  /** The measured program's own PID (not the wrappers'). */
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Last lines of stdout and stderr, for error messages. */
  readonly tail: string[];
  readonly exited: boolean;
  onLine(listener: (line: string) => void): void;
  stop(): Promise<void>;
}

const children = new Set<Child>();

/** The hard open-file limit children inherit; only CAP_SYS_RESOURCE could go above it. */
export const HARD_NOFILE = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim()) || 1024;

/**
 * Starts `cmd args` with a raised open-file limit and a hard lifetime (`timeout`), so it
 * stops by itself even if the benchmark is killed. Wrapped as
 * `sh -c 'ulimit -n N; exec timeout -k 5 MAX cmd args'`; the measured PID is the child of
 * `timeout`.
 */
export async function startChild(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { nofile?: number; maxSeconds?: number; stdin?: 'pipe' | 'ignore'; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Promise<Child> {
  // Raise the open-file limit; without CAP_SYS_RESOURCE only up to the hard limit.
  const n = Math.min(opts.nofile ?? 200_000, HARD_NOFILE);
  const script = `ulimit -n ${n} || exit 97; exec timeout -k 5 "$@"`;
  const proc = spawn('sh', ['-c', script, 'sh', String(opts.maxSeconds ?? 1200), cmd, ...args], {
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  const tail: string[] = [];
  // `opts.onLine` hears every line, also those printed before this function returns.
  const listeners: ((line: string) => void)[] = opts.onLine ? [opts.onLine] : [];
  for (const stream of [proc.stdout, proc.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      for (const l of listeners) l(line);
    });
  }
  let exited = false;
  const exitedP = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('exit', () => {
    exited = true;
  });
  // Once sh has exec'd `timeout`, timeout forks the program: its PID is timeout's only child.
  const wrapper = proc.pid;
  if (wrapper === undefined) throw new Error(`${name}: could not start ${cmd}`);
  let pid: number | undefined;
  for (let i = 0; i < 1000 && pid === undefined && !exited; i++) {
    try {
      if (readFileSync(`/proc/${wrapper}/comm`, 'utf8').trim() === 'timeout') {
        const kids = readFileSync(`/proc/${wrapper}/task/${wrapper}/children`, 'utf8').trim();
        if (kids) pid = Number(kids.split(' ')[0]);
      }
    } catch {
      // not there yet, or already gone
    }
    if (pid === undefined) await sleep(10);
  }
  if (pid === undefined) throw new Error(`${name}: ${cmd} did not start\n${tail.join('\n')}`);
  const child: Child = {
    name,
    pid,
    proc,
    tail,
    get exited() {
      return exited;
    },
    onLine: (l) => listeners.push(l),
    stop: async () => {
      children.delete(child);
      if (exited) return;
      // timeout forwards SIGTERM to the program; SIGKILL both after 5 s.
      proc.kill('SIGTERM');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 5000));
      if ((await Promise.race([exitedP, timer])) === 'late') {
        killQuietly(pid!);
        killQuietly(wrapper);
        await Promise.race([exitedP, sleep(2000)]);
      }
    },
  };
  children.add(child);
  return child;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Kills every child still running (synchronously, for process exit). */
export function killAllChildren(): void {
  for (const c of children) {
    if (c.exited) continue;
    killQuietly(c.pid);
    killQuietly(c.proc.pid!);
  }
  children.clear();
}

/** Waits for a line matching `re` from a child, or fails after `ms`. */
export function waitForLine(child: Child, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`${child.name}: no line matching ${re} within ${ms / 1000} s\n${child.tail.join('\n')}`));
    }, ms);
    child.proc.once('exit', (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${code}) before printing ${re}\n${child.tail.join('\n')}`));
    });
    child.onLine((line) => {
      if (done) return;
      const m = re.exec(line);
      if (m) {
        done = true;
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

/** One sample line of the Prometheus text format. */
export interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the samples whose metric name starts with one of `prefixes` (skips the rest cheaply). */
export function parseSamples(text: string, prefixes: readonly string[]): Sample[] {
  const out: Sample[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    if (text.charCodeAt(pos) !== 35 /* # */ && prefixes.some((p) => text.startsWith(p, pos))) {
      const m = LINE.exec(text.slice(pos, end));
      if (m) {
        const labels: Record<string, string> = {};
        for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
        out.push({ name: m[1]!, labels, value: Number(m[3]) });
      }
    }
    pos = end + 1;
  }
  return out;
}

export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Cumulative histogram buckets `le -> count` of one histogram. */
export function buckets(samples: readonly Sample[], name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/** `after - before` of cumulative buckets. */
export function bucketDelta(before: Map<number, number>, after: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [le, n] of after) out.set(le, n - (before.get(le) ?? 0));
  return out;
}

/**
 * Quantile of cumulative buckets, interpolated linearly inside a bucket as PromQL's
 * histogram_quantile does. In the +Inf bucket it answers the highest finite bound, with
 * `over` set. NaN without observations.
 */
export function histogramQuantile(q: number, cumulative: Map<number, number>): { value: number; over: boolean } {
  const list = [...cumulative.entries()].sort((a, b) => a[0] - b[0]);
  const total = list[list.length - 1]?.[1] ?? 0;
  if (total <= 0) return { value: NaN, over: false };
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of list) {
    if (count >= rank) {
      if (le === Infinity) return { value: prevLe, over: true };
      if (count === prevCount) return { value: le, over: false };
      return { value: prevLe + ((le - prevLe) * (rank - prevCount)) / (count - prevCount), over: false };
    }
    prevLe = le;
    prevCount = count;
  }
  return { value: prevLe, over: true };
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Bytes in decimal units (kB, MB), as the targets are stated. */
export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** `n` with `digits` decimals, or n/a. */
export function fixed(n: number, digits = 3): string {
  return Number.isFinite(n) ? n.toFixed(digits) : 'n/a';
}

/** Milliseconds, with a decimal below 10 ms. */
export function fmtMs(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : 'n/a';
}

/** Bytes in MB with one decimal (memory figures). */
export function fmtMB(n: number): string {
  return Number.isFinite(n) ? `${(n / 1e6).toFixed(1)} MB` : 'n/a';
}

/** A plain-text table with aligned columns (also valid Markdown). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
