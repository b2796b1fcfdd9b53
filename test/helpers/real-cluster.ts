import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ClusterStatus } from '../../src/evaluate/snapshot.js';
import { startExporter, type RunningExporter } from '../../src/exporter.js';
import { createLogger } from '../../src/log.js';
import { cleared, listMess } from './janitor.js';
import { randomBase, tempDir } from './stack.js';
import { requireTool } from './tools.js';

/**
 * Helpers for tests on real clustered software (etcd, Patroni): member processes in process
 * groups of their own, killed whatever happens to the test, loopback addresses whose
 * product ports are free, and an in-process exporter with the live /metrics and API.
 */

const OUTPUT_LIMIT = 64 * 1024;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone already
  }
}

export interface GroupProcessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Run as this user when the tests run as root (PostgreSQL refuses to run as root). */
  readonly user?: string;
}

/**
 * A program run in a process group of its own, so one signal reaches whatever it forked,
 * under `setpriv --pdeathsig KILL` (the kernel kills it as soon as the test worker dies)
 * and listed with the janitor (which kills its group should the worker die before its
 * afterAll ran).
 */
export class GroupProcess {
  readonly child: ChildProcess;
  private out = '';
  private readonly exited: Promise<void>;

  constructor(bin: string, args: readonly string[], opts: GroupProcessOptions = {}) {
    const as = opts.user && process.getuid?.() === 0 ? ['--reuid', opts.user, '--regid', opts.user, '--init-groups'] : [];
    this.child = spawn(requireTool('setpriv'), [...as, '--pdeathsig', 'KILL', '--', requireTool(bin), ...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: opts.env,
    });
    const keep = (d: Buffer): void => {
      this.out = (this.out + d.toString()).slice(-OUTPUT_LIMIT);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    if (this.child.pid !== undefined) listMess('group', this.child.pid);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.once('error', () => resolve());
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /** The last 64 KiB of its stdout and stderr, for failure messages. */
  output(): string {
    return this.out;
  }

  /** Sends `signal` to the whole group and returns: SIGSTOP freezes it (its sockets still accept), SIGCONT thaws it. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    if (this.child.pid !== undefined) signalGroup(this.child.pid, signal);
  }

  /** Sends `signal` to the whole group, waits for the leader to exit, then kills what is left of the group. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    signalGroup(pid, signal);
    await this.exited;
    signalGroup(pid, 'SIGKILL');
    cleared('group', pid);
  }
}

/** Whether `host:port` can be bound now (no one listens there, and no one on every address). */
async function bindable(host: string, port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` loopback addresses 127.a.b.1, 127.a.b.2, ... of a random /24 on which every port
 * in `ports` is free, so members listen on their product's default ports as the preset
 * expects. Tries a few bases; fails naming the port that is taken everywhere.
 */
export async function freeAddresses(count: number, ports: readonly number[]): Promise<string[]> {
  let taken = '';
  for (let attempt = 0; attempt < 8; attempt++) {
    const prefix = randomBase().replace(/\.1$/, '');
    const addresses = Array.from({ length: count }, (_, i) => `${prefix}.${i + 1}`);
    const checks = await Promise.all(addresses.flatMap((a) => ports.map(async (p) => ((await bindable(a, p)) ? '' : `${a}:${p}`))));
    taken = checks.find((c) => c !== '') ?? '';
    if (!taken) return addresses;
  }
  throw new Error(`no free loopback addresses for ports ${ports.join(', ')} (last taken: ${taken}); is a program listening on 0.0.0.0 there?`);
}

export interface WatchingExporter {
  /** The exporter's log, logfmt lines at info level. */
  readonly logLines: string[];
  /** The one cluster of the configuration, as `/api/v1/status` answers it. */
  cluster(): Promise<ClusterStatus>;
  /** The live `/metrics` page. */
  metrics(): Promise<string>;
  /** The status page's HTML. */
  page(): Promise<string>;
  close(): Promise<void>;
}

/** Starts the exporter in this process on `configYaml` (written to a temp dir that `close` removes), on 127.0.0.1:0. */
export async function watch(configYaml: string): Promise<WatchingExporter> {
  const dir = await tempDir('appcluster-real-');
  listMess('dir', dir);
  const configFile = join(dir, 'config.yml');
  const logLines: string[] = [];
  let exporter: RunningExporter;
  try {
    await writeFile(configFile, configYaml);
    exporter = await startExporter({
      configFile,
      listenAddress: '127.0.0.1:0',
      logger: createLogger('info', 'logfmt', { write: (s: string) => logLines.push(s) }),
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    cleared('dir', dir);
    throw err;
  }
  return {
    logLines,
    cluster: async () => {
      const res = await fetch(`${exporter.url}/api/v1/status`);
      const body = (await res.json()) as { data: { clusters: ClusterStatus[] } };
      return body.data.clusters[0]!;
    },
    metrics: async () => (await fetch(`${exporter.url}/metrics`)).text(),
    page: async () => (await fetch(`${exporter.url}/`)).text(),
    close: async () => {
      await exporter.close();
      await rm(dir, { recursive: true, force: true });
      cleared('dir', dir);
    },
  };
}

/** One sample of an exposition page. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of `name` on a /metrics page whose labels include `match`. */
export function samples(page: string, name: string, match: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const line of page.split('\n')) {
    const m = LINE.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = JSON.parse(`"${l[2]!}"`) as string;
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) out.push({ name, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` with labels `match`; undefined when absent. */
export function value(page: string, name: string, match: Record<string, string>): number | undefined {
  const found = samples(page, name, match);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(match)}`);
  return found[0]?.value;
}
