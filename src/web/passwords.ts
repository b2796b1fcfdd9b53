import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The bcrypt comparison, in a worker thread: bcrypt is slow on purpose (a quarter of a
 * second at cost 12), and on the main thread every wrong password a client sends would
 * stall the web server and the rest of the process for that long. A string, run with
 * `eval`, so that the same code serves from the sources (tests) and from dist/; bcryptjs
 * is required by the absolute path the main thread resolved.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', ({ password, hash }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(password, hash);
  } catch {
    ok = false;
  }
  parentPort.postMessage(ok);
});
`;

/** Good logins remembered at most; the least recently used goes first. */
export const GOOD_LOGINS_CACHED = 64;

/** An idle worker is ended after this long, and started again at the next check. */
const WORKER_IDLE_MS = 60_000;

interface Pending {
  readonly password: string;
  readonly hash: string;
  resolve(ok: boolean): void;
  reject(err: Error): void;
}

/** The cost factor of a bcrypt hash (`$2y$12$...`: 12). */
export function bcryptCost(hash: string): number {
  return Number(hash.slice(4, 6));
}

/**
 * Checks user names and passwords against bcrypt hashes (web-config.yml's
 * `basic_auth_users`) as exporter-toolkit does: one comparison at a time, off the main
 * thread (a worker thread, started at the first comparison and ended when idle), in the
 * order asked; an unknown user costs a comparison against the costliest configured hash,
 * so that timing does not tell which users exist; good logins are remembered (at most
 * GOOD_LOGINS_CACHED, by a SHA-256 of user, password and hash) and answered at once,
 * without waiting behind the queue. Wrong passwords are never remembered, so a flood of
 * them cannot push a good login out.
 */
export class PasswordChecker {
  private users: ReadonlyMap<string, string> = new Map();
  private decoy: string | undefined;
  private readonly good = new Map<string, true>();
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private worker: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private compared = 0;

  /** @param users user name to bcrypt hash (`$2a$`, `$2b$` or `$2y$`) */
  constructor(users: Readonly<Record<string, string>> = {}) {
    this.setUsers(users);
  }

  /** True when some user is configured (basic auth is on). */
  get enabled(): boolean {
    return this.users.size > 0;
  }

  /** bcrypt comparisons run so far (a remembered good login runs none). */
  get comparisons(): number {
    return this.compared;
  }

  /**
   * Replaces the users (a reload). A remembered login stays good only while its user has
   * the same hash: the hash is part of what is remembered, and unknown users are never
   * looked up.
   */
  setUsers(users: Readonly<Record<string, string>>): void {
    this.users = new Map(Object.entries(users));
    // The costliest configured hash stands in for unknown users: the same work as a known
    // user's wrong password. Its own user's password matching it is of no use: the answer
    // for an unknown user is no, whatever the comparison says.
    let decoy: string | undefined;
    for (const hash of this.users.values()) if (decoy === undefined || bcryptCost(hash) > bcryptCost(decoy)) decoy = hash;
    this.decoy = decoy;
  }

  /**
   * True when `password` is `user`'s. Resolves at once for a remembered good login; else
   * after this comparison's turn in the queue.
   * @throws Error when the worker thread failed (the request is then answered 500).
   */
  async check(user: string, password: string): Promise<boolean> {
    const hash = this.users.get(user);
    if (hash === undefined) {
      if (this.decoy !== undefined) await this.compare(password, this.decoy);
      return false;
    }
    const key = createHash('sha256').update(user).update('\u0000').update(password).update('\u0000').update(hash).digest('base64');
    if (this.good.has(key)) {
      // Most recently used goes last: the first key is the one to drop.
      this.good.delete(key);
      this.good.set(key, true);
      return true;
    }
    const ok = await this.compare(password, hash);
    if (ok) {
      if (this.good.size >= GOOD_LOGINS_CACHED) this.good.delete(this.good.keys().next().value!);
      this.good.set(key, true);
    }
    return ok;
  }

  /** Ends the worker thread; comparisons still queued are refused with an error. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const err = new Error('the password checker was closed');
    for (const p of this.queue.splice(0)) p.reject(err);
    const worker = this.worker;
    this.worker = undefined;
    this.current?.reject(err);
    this.current = undefined;
    if (worker) await worker.terminate();
  }

  private compare(password: string, hash: string): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ password, hash, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    if (this.current !== undefined) return;
    const p = this.queue.shift();
    if (p === undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => void this.endIdle(), WORKER_IDLE_MS).unref();
      return;
    }
    clearTimeout(this.idleTimer);
    this.current = p;
    this.compared++;
    this.started().postMessage({ password: p.password, hash: p.hash });
  }

  private async endIdle(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined || this.current !== undefined) return;
    this.worker = undefined;
    await worker.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: createRequire(import.meta.url).resolve('bcryptjs') } });
    // The web server keeps the process alive, not a check in progress.
    worker.unref();
    worker.on('message', (ok: unknown) => {
      const p = this.current;
      this.current = undefined;
      p?.resolve(ok === true);
      this.next();
    });
    const failed = (err: Error): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const p = this.current;
      this.current = undefined;
      p?.reject(err);
      // The next comparison starts a new worker.
      this.next();
    };
    worker.on('error', failed);
    worker.on('exit', (code) => failed(new Error(`the password worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
