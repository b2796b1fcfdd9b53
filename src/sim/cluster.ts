import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Faults a simulated component can be switched into while it runs. */
export const FAULTS = [
  'down', // listener closed: connection refused
  'hang', // accepts and never answers
  'slow', // answers after `value` ms (default 3000)
  'http500', // answers HTTP 500
  'unhealthy', // answers 200 with status "degraded"
  'malformed', // answers truncated JSON
  'oversized', // streams a body without end (up to 1 GiB) until the client goes away
  'version_drift', // reports version `value` (default 0.0.1-drift)
  'key_drift', // reports another encryption key
  'frozen_heartbeat', // reports the heartbeat of the moment the fault was set
  'flapping', // every other request fails with HTTP 503
] as const;
export type Fault = (typeof FAULTS)[number];

export interface SimComponentSpec {
  readonly name: string;
  readonly port: number;
}

export interface SimOptions {
  /** Number of servers, named `<prefix>1`..`<prefix>N`. */
  readonly servers: number;
  readonly components: readonly SimComponentSpec[];
  /** First server's address; each next server takes the next loopback address. */
  readonly baseAddress?: string;
  readonly namePrefix?: string;
  readonly version?: string;
  readonly key?: string;
  readonly os?: string;
  /** Also report the raw key (as some products' admin APIs do), to exercise key hashing. */
  readonly exposeRawKey?: boolean;
}

interface FaultState {
  readonly fault: Fault;
  readonly value?: string;
  readonly since: number;
}

class SimComponent {
  private server: Server;
  private readonly sockets = new Set<Socket>();
  readonly faults = new Map<Fault, FaultState>();
  private requests = 0;
  listening = false;

  constructor(
    readonly serverName: string,
    readonly address: string,
    readonly spec: SimComponentSpec,
    private readonly node: SimCluster,
    /** The cluster's one primary server (the first); the others answer role "replica". */
    private readonly primary: boolean,
  ) {
    this.server = this.makeServer();
  }

  private makeServer(): Server {
    const server = createServer((req, res) => this.answer(req, res));
    server.keepAliveTimeout = 30_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  async listen(): Promise<void> {
    if (this.listening) return;
    this.server = this.makeServer();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.spec.port, this.address, () => resolve());
    });
    this.listening = true;
  }

  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    this.requests++;
    const f = this.faults;
    if (f.has('hang')) return;
    if (f.has('slow')) {
      const delay = Number(f.get('slow')!.value ?? 3000);
      const t = setTimeout(() => this.respond(res), delay);
      res.on('close', () => clearTimeout(t));
      return;
    }
    this.respond(res);
  }

  private respond(res: ServerResponse): void {
    const f = this.faults;
    if (f.has('http500')) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"status":"error"}');
    if (f.has('flapping') && this.requests % 2 === 0) {
      return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"unavailable"}');
    }
    if (f.has('malformed')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status": "ok", "version": ');
    if (f.has('oversized')) return this.endless(res);
    const key = f.has('key_drift') ? `${this.node.key}-drifted` : this.node.key;
    const heartbeat = f.get('frozen_heartbeat')?.since ?? Date.now();
    const body: Record<string, unknown> = {
      status: f.has('unhealthy') ? 'degraded' : 'ok',
      server: this.serverName,
      component: this.spec.name,
      version: f.has('version_drift') ? (f.get('version_drift')!.value ?? '0.0.1-drift') : this.node.version,
      key_fingerprint: createHash('sha256').update(key).digest('hex').slice(0, 16),
      heartbeat: new Date(heartbeat).toISOString(),
      os: this.node.os,
      sessions: this.requests % 50,
      role: this.primary ? 'primary' : 'replica',
    };
    if (this.node.exposeRawKey) body['encryption_key'] = key;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  /** Streams up to 1 GiB, honouring back-pressure, until the client disconnects. */
  private endless(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (!res.destroyed && sent < 1024 ** 3) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.write('{"pad":"');
    pump();
  }
}

/** Adds `n` to an IPv4 address. */
export function nthAddress(base: string, n: number): string {
  const parts = base.split('.').map(Number);
  let value = ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]! + n;
  const out: number[] = [];
  for (let i = 0; i < 4; i++) {
    out.unshift(value & 255);
    value = Math.floor(value / 256);
  }
  return out.join('.');
}

/**
 * A simulated cluster on loopback: every server has its own 127.x.y.z address and every
 * component its own listener there, answering a JSON health document like a real node.
 */
export class SimCluster {
  readonly version: string;
  readonly key: string;
  readonly os: string;
  readonly exposeRawKey: boolean;
  readonly servers: { readonly name: string; readonly address: string; readonly components: SimComponent[] }[];

  constructor(readonly options: SimOptions) {
    this.version = options.version ?? '8.6.2';
    this.key = options.key ?? 'simulated-cluster-key';
    this.os = options.os ?? 'Linux 6.1.0-amd64';
    this.exposeRawKey = options.exposeRawKey ?? false;
    const base = options.baseAddress ?? '127.0.10.1';
    const prefix = options.namePrefix ?? 'node-';
    this.servers = Array.from({ length: options.servers }, (_, i) => {
      const name = `${prefix}${i + 1}`;
      const address = nthAddress(base, i);
      return { name, address, components: options.components.map((c) => new SimComponent(name, address, c, this, i === 0)) };
    });
  }

  async start(): Promise<void> {
    const all = this.servers.flatMap((s) => s.components);
    // Bounded batches: tens of thousands of listen() calls at once exhaust nothing but take long.
    for (let i = 0; i < all.length; i += 500) await Promise.all(all.slice(i, i + 500).map((c) => c.listen()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.flatMap((s) => s.components.map((c) => c.close())));
  }

  private select(server: string, component?: string): SimComponent[] {
    const s = this.servers.find((x) => x.name === server);
    if (!s) throw new Error(`no simulated server "${server}"`);
    const list = component ? s.components.filter((c) => c.spec.name === component) : s.components;
    if (list.length === 0) throw new Error(`server "${server}" has no component "${component}"`);
    return list;
  }

  /** Switches a fault on for one server (every component, or one). */
  async setFault(server: string, fault: Fault, opts: { component?: string; value?: string } = {}): Promise<void> {
    if (!FAULTS.includes(fault)) throw new Error(`unknown fault "${fault}"; known: ${FAULTS.join(', ')}`);
    for (const c of this.select(server, opts.component)) {
      c.faults.set(fault, { fault, value: opts.value, since: Date.now() });
      if (fault === 'down') await c.close();
    }
  }

  /** Clears one fault, or every fault, of a server (every component, or one). */
  async clearFault(server: string, opts: { component?: string; fault?: Fault } = {}): Promise<void> {
    for (const c of this.select(server, opts.component)) {
      if (opts.fault) c.faults.delete(opts.fault);
      else c.faults.clear();
      if (!c.faults.has('down')) await c.listen();
    }
  }

  async clearAll(): Promise<void> {
    for (const s of this.servers) await this.clearFault(s.name);
  }

  describe(): { name: string; address: string; components: { name: string; port: number; faults: string[] }[] }[] {
    return this.servers.map((s) => ({
      name: s.name,
      address: s.address,
      components: s.components.map((c) => ({
        name: c.spec.name,
        port: c.spec.port,
        faults: [...c.faults.values()].map((f) => (f.value ? `${f.fault}=${f.value}` : f.fault)),
      })),
    }));
  }
}
