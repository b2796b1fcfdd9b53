import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { EXCLUSIVE_FAULTS, FAULTS, TRANSPORT_FAULTS, type Fault, type FaultState } from './faults.js';
import type { AnswerContext, HttpShape, Reply, Shape, SimClusterView, SimServerView } from './shape.js';
import { SHAPES, type ShapeName, type ShapeOptions } from './shapes/registry.js';

export { FAULTS, type Fault } from './faults.js';
export type { ShapeName, ShapeOptions } from './shapes/registry.js';

export interface SimComponentSpec {
  readonly name: string;
  readonly port: number;
  /** What the listener answers (default `generic`, the plain health document); see `shapes/`. */
  readonly shape?: ShapeName;
}

export interface SimOptions {
  /** Number of servers, named `<prefix>1`..`<prefix>N`. */
  readonly servers: number;
  readonly components: readonly SimComponentSpec[];
  /** First server's address; each next server takes the next loopback address. */
  readonly baseAddress?: string;
  readonly namePrefix?: string;
  /** The version every server reports (a product shape: its release, e.g. ProGet's releaseNumber). */
  readonly version?: string;
  readonly key?: string;
  readonly os?: string;
  /** Also report the raw key (as some products' admin APIs do), to exercise key hashing. */
  readonly exposeRawKey?: boolean;
  /** Settings of the product shapes. */
  readonly products?: ShapeOptions;
  /** Serve the HTTP shapes over TLS with this key and certificate (PEM text); default plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
}

const HTTP_TRANSPORT = new Set<Fault>(TRANSPORT_FAULTS);

class SimComponent {
  private server: Server;
  private readonly sockets = new Set<Socket>();
  readonly faults = new Map<Fault, FaultState>();
  private requests = 0;
  listening = false;

  constructor(
    readonly host: SimServer,
    readonly spec: SimComponentSpec,
    readonly shape: Shape,
    private readonly tls: SimOptions['tls'],
  ) {
    this.server = this.makeServer();
  }

  /** Whether `fault` means something on this component's shape. */
  accepts(fault: Fault): boolean {
    if (fault === 'down') return true;
    return (this.shape.protocol === 'http' && HTTP_TRANSPORT.has(fault)) || fault in this.shape.faults;
  }

  private makeServer(): Server {
    const shape = this.shape;
    let server: Server;
    if (shape.protocol === 'http') {
      const handle = (req: IncomingMessage, res: ServerResponse): void => this.answer(shape, req, res);
      const http = this.tls ? createHttpsServer({ key: this.tls.key, cert: this.tls.cert }, handle) : createServer(handle);
      http.keepAliveTimeout = 30_000;
      server = http;
    } else {
      // A reset from a probe that connects and leaves is no error of the simulator.
      server = createTcpServer((socket) => socket.on('error', () => undefined));
    }
    server.on('connection', (socket: Socket) => {
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
      this.server.listen(this.spec.port, this.host.address, () => resolve());
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

  private answer(shape: HttpShape, req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    this.requests++;
    const f = this.faults;
    if (f.has('hang')) return;
    if (f.has('slow')) {
      const delay = Number(f.get('slow')!.value ?? 3000);
      const t = setTimeout(() => this.respond(shape, req, res), delay);
      res.on('close', () => clearTimeout(t));
      return;
    }
    this.respond(shape, req, res);
  }

  private respond(shape: HttpShape, req: IncomingMessage, res: ServerResponse): void {
    const f = this.faults;
    if (f.has('http500')) return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"status":"error"}');
    if (f.has('flapping') && this.requests % 2 === 0) {
      return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"unavailable"}');
    }
    if (f.has('oversized')) return this.endless(res);
    const ctx: AnswerContext = {
      server: this.host,
      component: this.spec.name,
      faults: f,
      requests: this.requests,
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://sim'),
      headers: req.headers,
    };
    const reply: Reply = shape.answer(ctx);
    // Cut before the end: a JSON object without its closing brace never parses.
    const body = f.has('malformed') ? reply.body.slice(0, Math.floor(reply.body.length / 2)) : reply.body;
    res.writeHead(reply.status, { 'content-type': reply.contentType, ...reply.headers }).end(body);
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

/** One simulated server: its own loopback address, one listener per component. */
class SimServer implements SimServerView {
  readonly components: SimComponent[] = [];

  constructor(
    readonly name: string,
    readonly address: string,
    readonly index: number,
  ) {}

  hasFault(fault: Fault): boolean {
    return this.components.some((c) => c.faults.has(fault));
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

/** The server name that selects every server in `setFault` and `clearFault`. */
export const ALL_SERVERS = 'all';

/**
 * A simulated cluster on loopback: every server has its own 127.x.y.z address and every
 * component its own listener there, answering the generic JSON health document or, by its
 * `shape`, the documents of a product (ProGet, SecureTransport, etcd, Patroni) or a bare
 * TCP port.
 */
export class SimCluster implements SimClusterView {
  readonly version: string;
  readonly key: string;
  readonly os: string;
  readonly exposeRawKey: boolean;
  readonly servers: SimServer[];
  private readonly shapes: Shape[] = [];

  constructor(readonly options: SimOptions) {
    this.version = options.version ?? '8.6.2';
    this.key = options.key ?? 'simulated-cluster-key';
    this.os = options.os ?? 'Linux 6.1.0-amd64';
    this.exposeRawKey = options.exposeRawKey ?? false;
    const base = options.baseAddress ?? '127.0.10.1';
    const prefix = options.namePrefix ?? 'node-';
    this.servers = Array.from({ length: options.servers }, (_, i) => new SimServer(`${prefix}${i + 1}`, nthAddress(base, i), i));
    // One shape instance per cluster, made once every server exists: some span servers.
    const byName = new Map<ShapeName, Shape>();
    for (const spec of options.components) {
      const name = spec.shape ?? 'generic';
      if (!byName.has(name)) byName.set(name, SHAPES[name](this, options.products ?? {}));
      for (const s of this.servers) s.components.push(new SimComponent(s, spec, byName.get(name)!, options.tls));
    }
    this.shapes = [...byName.values()];
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
    const hosts = server === ALL_SERVERS ? this.servers : this.servers.filter((x) => x.name === server);
    if (hosts.length === 0) throw new Error(`no simulated server "${server}"`);
    const list = hosts.flatMap((s) => (component ? s.components.filter((c) => c.spec.name === component) : s.components));
    if (list.length === 0) throw new Error(`server "${server}" has no component "${component}"`);
    return list;
  }

  private changed(): void {
    for (const shape of this.shapes) shape.faultsChanged?.();
  }

  /**
   * Switches a fault on for one server, or every server (`all`): on every component whose
   * shape gives it a meaning, or on one. Throws when the fault is unknown, or when no
   * selected component takes it (the message lists what each shape takes).
   */
  async setFault(server: string, fault: Fault, opts: { component?: string; value?: string } = {}): Promise<void> {
    if (!FAULTS.includes(fault)) throw new Error(`unknown fault "${fault}"; known: ${FAULTS.join(', ')}`);
    const selected = this.select(server, opts.component);
    const taking = selected.filter((c) => c.accepts(fault));
    if (taking.length === 0) {
      const shapes = [...new Set(selected.map((c) => c.spec.shape ?? 'generic'))];
      const takes = shapes.map((name) => `${name} takes ${FAULTS.filter((f) => selected.find((c) => (c.spec.shape ?? 'generic') === name)!.accepts(f)).join(', ')}`);
      throw new Error(`fault "${fault}" has no meaning on ${server}${opts.component ? `/${opts.component}` : ''}: ${takes.join('; ')}`);
    }
    if (EXCLUSIVE_FAULTS.includes(fault)) {
      for (const s of this.servers) for (const c of s.components) if (!taking.includes(c)) c.faults.delete(fault);
    }
    for (const c of taking) {
      c.faults.set(fault, { fault, value: opts.value, since: Date.now() });
      if (fault === 'down') await c.close();
    }
    this.changed();
  }

  /** Clears one fault, or every fault, of a server or every server (`all`): every component, or one. */
  async clearFault(server: string, opts: { component?: string; fault?: Fault } = {}): Promise<void> {
    for (const c of this.select(server, opts.component)) {
      if (opts.fault) c.faults.delete(opts.fault);
      else c.faults.clear();
      if (!c.faults.has('down')) await c.listen();
    }
    this.changed();
  }

  async clearAll(): Promise<void> {
    await this.clearFault(ALL_SERVERS);
  }

  describe(): { name: string; address: string; components: { name: string; port: number; shape: ShapeName; faults: string[] }[] }[] {
    return this.servers.map((s) => ({
      name: s.name,
      address: s.address,
      components: s.components.map((c) => ({
        name: c.spec.name,
        port: c.spec.port,
        shape: c.spec.shape ?? 'generic',
        faults: [...c.faults.values()].map((f) => (f.value ? `${f.fault}=${f.value}` : f.fault)),
      })),
    }));
  }
}
