import { spawnSync } from 'node:child_process';
import { chmod, chown, copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Certs } from './certs.js';
import { cleared, listMess } from './janitor.js';
import { PG_PORT, postgresBinDir, postgresIds, stopPostmaster } from './patroni.js';
import { freeAddresses, GroupProcess } from './real-cluster.js';
import { tempDir, waitFor } from './stack.js';

export interface Postgres {
  readonly address: string;
  readonly port: number;
  /** The password of the role `monitor` (scram-sha-256). */
  readonly password: string;
  /** Runs SQL through psql as the superuser over the socket directory; returns its output (unaligned, tuples only). */
  psql(sql: string): string;
  stop(): Promise<void>;
}

/**
 * One real PostgreSQL (Debian's `postgresql`) on a loopback address of its own with the
 * default port, data in a fresh temp dir, run as `postgres` when the tests run as root.
 * Clients on 127.0.0.0/8 log in with a password (scram-sha-256) as `monitor`; with `certs`,
 * it serves TLS with their server certificate (which must name the address it gets).
 */
export async function startPostgres(certs?: (address: string) => Promise<Certs>): Promise<Postgres> {
  const bin = postgresBinDir();
  const dir = await tempDir('postgres-');
  listMess('dir', dir);
  await chmod(dir, 0o755);
  const owner = process.getuid?.() === 0 ? postgresIds() : undefined;
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const [address] = await freeAddresses(1, [PG_PORT]);
  const data = join(dir, 'data');
  const password = 'monitor-secret';
  let process_: GroupProcess | undefined;
  const stop = async (): Promise<void> => {
    await process_?.kill('SIGKILL');
    await stopPostmaster(data);
    cleared('postmaster', data);
    await rm(dir, { recursive: true, force: true });
    cleared('dir', dir);
  };
  try {
    await writeFile(join(dir, 'pw'), 'superuser-secret\n');
    if (owner) await chown(dir, owner.uid, owner.gid);
    if (owner) await chown(join(dir, 'pw'), owner.uid, owner.gid);
    const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${join(dir, 'pw')}`, '-E', 'UTF8'], {
      ...as,
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
    });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stdout}${init.stderr}`);
    listMess('postmaster', data);
    await writeFile(join(data, 'pg_hba.conf'), 'local all postgres trust\nhost all all 127.0.0.0/8 scram-sha-256\n');
    const settings = ['-c', `listen_addresses=${address}`, '-c', `port=${PG_PORT}`, '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', '-c', 'shared_buffers=16MB'];
    if (certs) {
      const c = await certs(address!);
      for (const [from, to] of [[c.serverCert, 'server.crt'], [c.serverKey, 'server.key']] as const) {
        await copyFile(from, join(dir, to));
        await chmod(join(dir, to), 0o600);
        if (owner) await chown(join(dir, to), owner.uid, owner.gid);
      }
      settings.push('-c', 'ssl=on', '-c', `ssl_cert_file=${join(dir, 'server.crt')}`, '-c', `ssl_key_file=${join(dir, 'server.key')}`);
    }
    process_ = new GroupProcess(join(bin, 'postgres'), ['-D', data, ...settings], { user: 'postgres', cwd: dir, env: { PATH: '/usr/bin:/bin', LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' } });
    const psql = (sql: string): string => {
      const r = spawnSync(join(bin, 'psql'), ['-h', dir, '-p', String(PG_PORT), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
        ...as,
        encoding: 'utf8',
        timeout: 20_000,
      });
      if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
      return r.stdout.trim();
    };
    await waitFor('PostgreSQL accepting connections', () => {
      if (!process_!.running) throw new Error(`postgres exited: ${process_!.output()}`);
      try {
        return psql('SELECT 1') === '1' ? true : undefined;
      } catch {
        return undefined;
      }
    }, 60_000);
    psql(`CREATE ROLE monitor LOGIN PASSWORD '${password}'`);
    return { address: address!, port: PG_PORT, password, psql, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
