import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsOptions } from 'node:tls';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../log.js';
import { WEB_MAX_CONNECTIONS } from '../probes/fd-budget.js';

/**
 * The serving shell of the exporter and the agent (the role exporter-toolkit's `web`
 * package plays for node_exporter and blackbox_exporter): an express app with the routes,
 * the guard of web-config.yml, 404, 405 and 500; and a server that listens with a
 * connection cap, time-outs and the TLS of web-config.yml, says where it listens, and closes.
 */

/**
 * Runs before every route; calls `next()` to go on, answers the request itself (401, 403),
 * or calls `next(err)` when it failed (logged, answered 500).
 */
export type Guard = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** One route: a method and an exact path (a GET route answers HEAD too). */
export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** A rejection or a thrown error is logged and answered 500 (or the connection is closed once the answer began). */
  readonly handle: RequestHandler;
}

const PLAIN = 'text/plain; charset=utf-8';

/**
 * Sends a whole answer: status, Content-Type, Content-Length, extra headers and the body (a
 * string is sent as UTF-8). A HEAD request gets the headers only (Node drops the body).
 */
export function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(bytes.length) });
  res.end(bytes);
}

/** A plain-text answer (text/plain; charset=utf-8). */
export function sendText(res: ServerResponse, status: number, text: string, headers?: Record<string, string>): void {
  send(res, status, PLAIN, text, headers);
}

/** A JSON answer (application/json; charset=utf-8). */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

/** The query string of the request line, parsed the WHATWG way. */
export function searchParams(req: IncomingMessage): URLSearchParams {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
}

/**
 * The app for `routes`: every answer carries `X-Content-Type-Options: nosniff`, then
 * `guard` runs, then the route whose path equals the request's, exactly (case sensitive,
 * a trailing slash counts, dot segments are not resolved). A path no route has is 404, a
 * method its routes do not take 405 with `Allow`; an error a route or the guard throws or
 * passes on is logged (`describe`, default its message) and answered 500 if nothing was
 * sent yet, else the connection is closed.
 */
export function createWebApp(
  routes: readonly Route[],
  opts: { readonly guard?: Guard; readonly logger: Logger; readonly describe?: (err: unknown) => string },
): express.Express {
  const describe = opts.describe ?? ((err: unknown) => (err instanceof Error ? err.message : String(err)));
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  // Routes that read a query take it with `searchParams`: no objects built from it.
  app.set('query parser', false);
  app.use((_req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  const guard = opts.guard;
  if (guard) app.use((req, res, next) => guard(req, res, next));
  const byPath = new Map<string, Route[]>();
  for (const r of routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
  for (const [path, list] of byPath) {
    const route = app.route(path);
    for (const r of list) {
      if (r.method === 'GET') route.get(r.handle);
      else route.post(r.handle);
    }
    const allow = [...new Set(list.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method])))].join(', ');
    route.all((_req, res) => sendText(res, 405, 'Method not allowed.\n', { Allow: allow }));
  }
  app.use((_req, res) => sendText(res, 404, 'Not found.\n'));
  // Express knows an error handler by its four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    // A malformed request (a bad path encoding, say) is the client's, not ours.
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      sendText(res, status, 'Bad request.\n');
      return;
    }
    opts.logger.error({ err: describe(err) }, 'request failed');
    if (!res.headersSent) sendText(res, 500, 'Internal error.\n');
    else res.destroy();
  });
  return app;
}

/**
 * Parses `--web.listen-address`: `host:port`, `:port` (every interface) or `[v6]:port`.
 * @throws Error on any other shape or a port above 65535.
 */
export function parseListenAddress(address: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid listen address "${address}"; expected host:port, :port or [v6]:port`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in listen address "${address}"`);
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}

/** A listening server (see `serve`). */
export interface Served {
  /** Base URL to reach it: `http://127.0.0.1:10471`, `localhost` for every interface. */
  readonly url: string;
  /** What the server listens on: `127.0.0.1:10471`, `[::]:10471`. */
  readonly address: string;
  readonly server: Server;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * How long a client may take to send a request's headers (10 s), a whole request (30 s)
 * and a TLS handshake (10 s): a client that trickles its bytes in holds a connection, and
 * an open file, for no more.
 */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * How often Node looks for requests past those time-outs (its default, 30 s, would let a
 * trickling client stay three times as long as the headers' time-out).
 */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000;
/** Idle keep-alive connections stay open this long (65 s), past Prometheus' scrape interval. */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/**
 * A connection on which nothing moves for this long (2 min) is closed: a client that stops
 * reading its answer midway would otherwise hold the answer's memory and a scrape's place
 * (`--web.max-requests`) for ever.
 */
const STALL_TIMEOUT_MS = 120_000;
/** At most one warning this often (1 min) that connections are refused at the cap. */
const DROP_WARNING_INTERVAL_MS = 60_000;

/** TLS for `serve`: the options it starts with and, optionally, what keeps them current. */
export interface ServeTls {
  /** `https.createServer`'s options: certificate, key, client CA, versions, client certificates. */
  readonly options: TlsOptions;
  /** Called with the server before it listens (web-config.yml's files followed at each handshake). */
  follow?(server: HttpsServer): void;
}

/**
 * Listens on `listenAddress`, over TLS when `tls` is given. At most `maxConnections`
 * connections are open at once (default WEB_MAX_CONNECTIONS, 512): past it a new connection
 * is closed at once, with a warning at most once a minute in `logger`.
 * @throws Error naming the address when it is malformed, taken (EADDRINUSE, with the flag
 * that picks another) or not this host's (EADDRNOTAVAIL).
 */
export async function serve(
  app: express.Express,
  opts: { readonly listenAddress: string; readonly tls?: ServeTls; readonly maxConnections?: number; readonly logger?: Logger },
): Promise<Served> {
  const { host, port } = parseListenAddress(opts.listenAddress);
  const timeouts = {
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  };
  let server: Server;
  if (opts.tls) {
    const https = createHttpsServer({ ...opts.tls.options, ...timeouts, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, app);
    opts.tls.follow?.(https);
    server = https;
  } else {
    server = createServer(timeouts, app);
  }
  server.timeout = STALL_TIMEOUT_MS;
  const maxConnections = opts.maxConnections ?? WEB_MAX_CONNECTIONS;
  server.maxConnections = maxConnections;
  let warnedMs = -Infinity;
  server.on('drop', () => {
    const now = performance.now();
    if (now - warnedMs < DROP_WARNING_INTERVAL_MS) return;
    warnedMs = now;
    opts.logger?.warn({ max_connections: maxConnections }, 'refusing connections: as many are open as --web.max-connections allows');
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new Error(`cannot listen on ${opts.listenAddress}: the address is already in use (is another instance running?); stop it, or pick another address with --web.listen-address`);
    }
    if (code === 'EADDRNOTAVAIL') throw new Error(`cannot listen on ${opts.listenAddress}: no interface of this host has that address`);
    if (code === 'EACCES') throw new Error(`cannot listen on ${opts.listenAddress}: permission denied (a port below 1024 needs privileges)`);
    throw err;
  }
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const urlHost = shownHost === '[::]' || shownHost === '0.0.0.0' ? 'localhost' : shownHost;
  return {
    url: `${opts.tls ? 'https' : 'http'}://${urlHost}:${addr.port}`,
    address: `${shownHost}:${addr.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
