import { execFile, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { CLIENT_PORT, type EtcdCluster } from './etcd.js';
import { cleared, listMess } from './janitor.js';
import { freeAddresses, GroupProcess } from './real-cluster.js';
import { tempDir, waitFor } from './stack.js';
import { requireTool } from './tools.js';

/** Patroni's REST API and PostgreSQL's ports, their defaults (patroni.readthedocs.io, "YAML Configuration Settings"). */
export const REST_PORT = 8008;
export const PG_PORT = 5432;

/** The answer of `GET /patroni` that the tests read (Patroni 3.0 REST API). */
export interface PatroniState {
  readonly state?: string;
  readonly role?: string;
  readonly server_version?: number;
  readonly patroni?: { readonly version?: string; readonly scope?: string };
}

export interface PatroniNode {
  readonly name: string;
  readonly address: string;
  readonly apiUrl: string;
  readonly dir: string;
  process?: GroupProcess;
}

/**
 * Patroni's DCS timing, in seconds (Patroni docs, "YAML Configuration Settings"): Patroni
 * requires loop_wait + 2 x retry_timeout <= ttl.
 */
export interface DcsTiming {
  readonly ttl: number;
  readonly loop_wait: number;
  readonly retry_timeout: number;
}

/** Patroni reports its primary as "master" before 4.0 and "primary" from 4.0. */
export const PRIMARY_ROLES = ['master', 'primary'];

/** PostgreSQL's binaries: Debian puts each major version under /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string {
  const found = spawnSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('PostgreSQL is not installed; run "node scripts/ensure-deps.mjs" (installs Debian\'s postgresql, patroni, python3-etcd)');
  return found;
}

/** Whether a process runs (a zombie waiting for a reaper that never comes counts as gone). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * A real Patroni cluster (Debian's `patroni` with `postgresql` and `python3-etcd`) on a
 * real etcd: `size` nodes, each on a loopback address of its own with Patroni's and
 * PostgreSQL's default ports, data under a fresh temp dir. Runs as `postgres` when the
 * tests run as root (PostgreSQL refuses root). `stop()` kills Patroni, then the
 * postmasters (which Patroni starts detached, in sessions of their own), and removes the
 * directory; the janitor does the same should the test worker die first.
 */
export class PatroniCluster {
  readonly nodes: PatroniNode[] = [];
  private dir = '';

  private constructor(
    private readonly etcd: EtcdCluster,
    private readonly size: number,
    private readonly dcs: DcsTiming,
  ) {}

  /**
   * Starts `size` nodes on `etcd` with the bootstrap DCS timing `dcs` (seconds; by default
   * a one-second loop so changes show quickly, and a 30 s leader TTL so a busy machine
   * never loses the leader key: a failover the test did not ask for).
   */
  static async start(etcd: EtcdCluster, size = 2, dcs: DcsTiming = { ttl: 30, loop_wait: 1, retry_timeout: 10 }): Promise<PatroniCluster> {
    const cluster = new PatroniCluster(etcd, size, dcs);
    try {
      await cluster.init();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  private async init(): Promise<void> {
    const bin = postgresBinDir();
    this.dir = await tempDir('patroni-');
    listMess('dir', this.dir);
    // PostgreSQL runs as postgres and must reach its directory under ours.
    await chmod(this.dir, 0o755);
    const owner = process.getuid?.() === 0 ? postgresIds() : undefined;
    const addresses = await freeAddresses(this.size, [REST_PORT, PG_PORT]);
    for (const [i, address] of addresses.entries()) {
      const name = `pg-${i + 1}`;
      const node: PatroniNode = { name, address, apiUrl: `http://${address}:${REST_PORT}`, dir: join(this.dir, name) };
      await mkdir(node.dir);
      listMess('postmaster', join(node.dir, 'data'));
      await writeFile(join(node.dir, 'patroni.yml'), stringify(this.settings(node, bin)));
      if (owner) await chown(node.dir, owner.uid, owner.gid);
      this.nodes.push(node);
    }
    for (const node of this.nodes) this.launch(node);
    await this.waitRunning();
  }

  /** One node's patroni.yml. */
  private settings(node: PatroniNode, bin: string): unknown {
    return {
      scope: 'appcluster-e2e',
      name: node.name,
      restapi: { listen: `${node.address}:${REST_PORT}`, connect_address: `${node.address}:${REST_PORT}` },
      etcd3: { hosts: this.etcd.members.map((m) => `${m.address}:${CLIENT_PORT}`).join(',') },
      bootstrap: {
        dcs: { ...this.dcs, postgresql: { use_pg_rewind: false } },
        initdb: [{ encoding: 'UTF8' }, { auth: 'trust' }],
        pg_hba: ['local all all trust', 'host all all 127.0.0.0/8 trust', 'host replication all 127.0.0.0/8 trust'],
      },
      postgresql: {
        listen: `${node.address}:${PG_PORT}`,
        connect_address: `${node.address}:${PG_PORT}`,
        data_dir: join(node.dir, 'data'),
        bin_dir: bin,
        pgpass: join(node.dir, 'pgpass'),
        authentication: { superuser: { username: 'postgres' }, replication: { username: 'postgres' } },
        parameters: { unix_socket_directories: node.dir, shared_buffers: '16MB', fsync: 'off' },
      },
    };
  }

  /**
   * Patroni under tini as a child subreaper (`tini -s`): the postmaster Patroni starts is
   * orphaned on purpose (patroni/postgresql/postmaster.py) and, once it exits, must be
   * reaped. This machine's PID 1 reaps nothing, and Patroni takes a zombie postmaster for a
   * running one (and restarts it, even in maintenance mode); tini reaps it as an init would.
   * tini puts Patroni in a process group of its own, so Patroni dies with tini by
   * `setpriv --pdeathsig KILL` rather than by the group's signal.
   */
  private launch(node: PatroniNode): void {
    node.process = new GroupProcess('tini', ['-s', '--', requireTool('setpriv'), '--pdeathsig', 'KILL', '--', requireTool('patroni'), join(node.dir, 'patroni.yml')], {
      user: 'postgres',
      cwd: node.dir,
      env: { PATH: '/usr/bin:/bin', HOME: node.dir, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
    });
  }

  /** `GET /patroni` of a node; undefined while its REST API does not answer. */
  async state(node: PatroniNode): Promise<PatroniState | undefined> {
    try {
      const res = await fetch(`${node.apiUrl}/patroni`, { signal: AbortSignal.timeout(2000) });
      return (await res.json()) as PatroniState;
    } catch {
      return undefined;
    }
  }

  /** The node that runs as primary, by its own account. */
  async primary(): Promise<PatroniNode | undefined> {
    for (const node of this.nodes) {
      const s = await this.state(node);
      if (s?.state === 'running' && PRIMARY_ROLES.includes(s.role ?? '')) return node;
    }
    return undefined;
  }

  /** Waits until every node runs: one primary, the others replicas. */
  async waitRunning(timeoutMs = 90_000): Promise<void> {
    try {
      await waitFor(
        'every Patroni node running, one primary',
        async () => {
          const states: (PatroniState | undefined)[] = [];
          for (const node of this.nodes) {
            if (!node.process?.running) throw new Error(`${node.name} exited`);
            states.push(await this.state(node));
          }
          const running = states.filter((s) => s?.state === 'running');
          const primaries = running.filter((s) => PRIMARY_ROLES.includes(s?.role ?? ''));
          return running.length === this.nodes.length && primaries.length === 1 ? true : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      const logs = this.nodes.map((n) => `--- ${n.name}\n${n.process?.output().slice(-3000) ?? '(not running)'}`).join('\n');
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
  }

  /** Starts Patroni again on a node whose Patroni was killed; it takes over the PostgreSQL it finds running. */
  async relaunch(node: PatroniNode): Promise<void> {
    await node.process?.kill('SIGKILL');
    this.launch(node);
    await this.waitRunning();
  }

  /**
   * Stops a node's PostgreSQL behind Patroni's back with a fast shutdown (SIGINT to the
   * postmaster, what `pg_ctl stop` sends; PostgreSQL docs, "Shutting Down the Server"), and
   * waits until it has exited.
   */
  async stopPostgres(node: PatroniNode): Promise<void> {
    const dataDir = join(node.dir, 'data');
    const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGINT');
    await waitFor(`${node.name}'s postmaster ${pid} gone`, async () => ((await alive(pid)) ? undefined : true), 30_000);
  }

  /** `POST /switchover` on the primary's REST API; resolves when Patroni answers that it is done. */
  async switchover(from: PatroniNode, to: PatroniNode): Promise<string> {
    const res = await fetch(`${from.apiUrl}/switchover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ leader: from.name, candidate: to.name }),
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`switchover answered ${res.status}: ${text}`);
    return text;
  }

  /** Kills Patroni, then each postmaster and its backends, and removes the directory; safe to call more than once. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map(async (n) => n.process?.kill('SIGKILL')));
    for (const node of this.nodes) {
      node.process = undefined;
      await stopPostmaster(join(node.dir, 'data'));
      cleared('postmaster', join(node.dir, 'data'));
    }
    if (this.dir) {
      await rm(this.dir, { recursive: true, force: true });
      cleared('dir', this.dir);
    }
  }
}

/**
 * Runs SQL on a node's PostgreSQL through psql over loopback (trusted there), tuples only,
 * without holding up the test's event loop: its output, or "error: " and psql's words.
 */
export function psql(node: PatroniNode, sql: string, timeoutMs = 60_000): Promise<string> {
  const args = ['-h', node.address, '-p', String(PG_PORT), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-c', sql];
  return new Promise((resolve) => {
    execFile(join(postgresBinDir(), 'psql'), args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve(err ? `error: ${stderr.trim() || err.message}` : stdout.trim());
    });
  });
}

export function postgresIds(): { uid: number; gid: number } {
  const out = spawnSync('id', ['postgres'], { encoding: 'utf8' }).stdout;
  const uid = /uid=(\d+)/.exec(out)?.[1];
  const gid = /gid=(\d+)/.exec(out)?.[1];
  if (!uid || !gid) throw new Error('no "postgres" user: install Debian\'s postgresql package');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Ends the postmaster of `dataDir` if it runs: immediate shutdown, then SIGKILL if it lingers. */
export async function stopPostmaster(dataDir: string): Promise<void> {
  const pidFile = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(pidFile.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1 || !(await alive(pid))) return;
  // Its backends, in sessions of their own: listed while the postmaster is still their parent.
  const children = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .map(Number)
    .filter((p) => p > 1);
  // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster ends its backends, then exits.
  process.kill(pid, 'SIGQUIT');
  try {
    await waitFor(`postmaster ${pid} gone`, async () => ((await alive(pid)) ? undefined : true), 10_000);
  } catch {
    for (const p of [pid, ...children]) if (await alive(p)) process.kill(p, 'SIGKILL');
  }
}
