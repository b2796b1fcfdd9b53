import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cleared, listMess } from './janitor.js';
import { freeAddresses, GroupProcess } from './real-cluster.js';
import { tempDir, waitFor } from './stack.js';

/** etcd's default client and peer ports (etcd.io, "Configuration flags"). */
export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;

export interface EtcdMember {
  readonly name: string;
  readonly address: string;
  readonly clientUrl: string;
  readonly dataDir: string;
  /** The running process; undefined while the member is killed. */
  process?: GroupProcess;
}

/** Raft timings short enough to elect a leader within a second or two, long enough for a busy 2-core machine. */
const HEARTBEAT_MS = 100;
const ELECTION_MS = 1000;

/**
 * A real etcd cluster (Debian's `etcd-server`) of `size` members, each on a loopback
 * address of its own with etcd's default ports, data under a fresh temp dir. `stop()`
 * kills every member and removes the directory; call it from afterAll.
 */
export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  private dir = '';

  private constructor(private readonly size: number) {}

  static async start(size = 3): Promise<EtcdCluster> {
    const cluster = new EtcdCluster(size);
    try {
      await cluster.init();
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  private async init(): Promise<void> {
    this.dir = await tempDir('etcd-');
    listMess('dir', this.dir);
    const addresses = await freeAddresses(this.size, [CLIENT_PORT, PEER_PORT]);
    addresses.forEach((address, i) => {
      const name = `etcd-${i + 1}`;
      this.members.push({ name, address, clientUrl: `http://${address}:${CLIENT_PORT}`, dataDir: join(this.dir, name) });
    });
    for (const m of this.members) this.launch(m);
    await this.waitHealthy(this.members);
  }

  /** `--initial-cluster`: every member's name and peer URL. */
  private get initialCluster(): string {
    return this.members.map((m) => `${m.name}=http://${m.address}:${PEER_PORT}`).join(',');
  }

  private launch(m: EtcdMember): void {
    // A restarted member finds its data dir and ignores the --initial-* flags.
    m.process = new GroupProcess('etcd', [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=http://${m.address}:${PEER_PORT}`,
      `--initial-advertise-peer-urls=http://${m.address}:${PEER_PORT}`,
      `--initial-cluster=${this.initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${this.dir}`,
      `--heartbeat-interval=${HEARTBEAT_MS}`,
      `--election-timeout=${ELECTION_MS}`,
      '--logger=zap',
      '--log-level=warn',
    ]);
  }

  member(name: string): EtcdMember {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no etcd member ${name}`);
    return m;
  }

  /** SIGKILL: the member stops at once, as in a crash. */
  async kill(name: string): Promise<void> {
    const m = this.member(name);
    await m.process?.kill('SIGKILL');
    m.process = undefined;
  }

  /**
   * SIGSTOP: the member freezes, as under a hung disk or a debugger; the kernel still
   * accepts connections on its ports, but nothing answers them. `thaw` resumes it.
   */
  freeze(name: string): void {
    this.member(name).process?.signal('SIGSTOP');
  }

  /** SIGCONT: a frozen member resumes. */
  thaw(name: string): void {
    this.member(name).process?.signal('SIGCONT');
  }

  /** Starts killed members again on their data dirs and waits until every member is healthy. */
  async restart(...names: string[]): Promise<void> {
    for (const name of names) {
      const m = this.member(name);
      if (!m.process) this.launch(m);
    }
    await this.waitHealthy(this.members);
  }

  private async waitHealthy(members: readonly EtcdMember[]): Promise<void> {
    try {
      await waitFor(
        `etcd members ${members.map((m) => m.name).join(', ')} healthy`,
        async () => {
          for (const m of members) {
            if (!m.process?.running) throw new Error(`${m.name} exited`);
            const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
            const body = (await res.json()) as { health?: string };
            if (body.health !== 'true') return undefined;
          }
          return true;
        },
        30_000,
      );
    } catch (err) {
      const logs = members.map((m) => `--- ${m.name}\n${m.process?.output().slice(-3000) ?? '(not running)'}`).join('\n');
      throw new Error(`${(err as Error).message}\n${logs}`);
    }
  }

  /** Kills every member and removes the data directories; safe to call more than once. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map(async (m) => m.process?.kill('SIGKILL')));
    for (const m of this.members) m.process = undefined;
    if (this.dir) {
      await rm(this.dir, { recursive: true, force: true });
      cleared('dir', this.dir);
    }
  }
}
