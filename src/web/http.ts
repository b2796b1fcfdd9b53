import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Negotiator from 'negotiator';
import type { Logger } from '../log.js';

/** A request as the routes see it: Node's message with its path and query. */
export interface Request extends IncomingMessage {
  /** The path of the request line as sent: not decoded, not normalised ("/a/../b" stays). */
  readonly path: string;
  /** The query string of the request line, parsed. */
  readonly query: URLSearchParams;
}

export type Response = ServerResponse;

/** Answers one request; a thrown error or rejection becomes a 500 (see `handler`). */
export type Handle = (req: Request, res: Response) => void | Promise<void>;

/**
 * Runs before every route; calls `next()` to go on, answers the request itself (401, 403),
 * or calls `next(err)` when it failed (logged, answered 500).
 */
export type Guard = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** One route: a method and an exact path. */
export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly handle: Handle;
}

const PLAIN = 'text/plain; charset=utf-8';

/**
 * Sends a whole answer: status, Content-Type, Content-Length, extra headers and the body (a
 * string is sent as UTF-8). A HEAD request gets the headers only (Node drops the body).
 */
export function send(res: Response, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(bytes.length) });
  res.end(bytes);
}

/**
 * An answer whose body goes out part by part while it is still being written (a 40 MB
 * scrape written by `streamExposition`): `take` sends a part, `end` the last one. Each
 * returns undefined when the kernel took the part at once, so that its memory may be
 * written over; else a promise that settles once the part has gone to the kernel, and
 * rejects (`AnswerClosed`) when the connection closes first, or when the client takes
 * nothing for `stallMs` (the connection is then closed). Sent chunked once a part went out;
 * a body that comes to `end` in one piece is sent with its Content-Length, as `send` does.
 * Only for HTTP/1.1 and later: an HTTP/1.0 answer without a length ends when the connection
 * closes, so one cut short would look whole.
 */
export class StreamedAnswer {
  private started = false;

  constructor(
    private readonly res: Response,
    private readonly status: number,
    private readonly type: string,
    private readonly headers: Record<string, string> = {},
    /** How long a part may wait for the client to take it: 30 s. */
    private readonly stallMs = 30_000,
  ) {}

  /** Sends a part; it must be larger than the socket's high-water mark (16 KiB), so that the socket says when it is out ('drain'). */
  take(part: Buffer): Promise<void> | undefined {
    const res = this.res;
    const socket = res.socket;
    if (res.destroyed || !socket || socket.destroyed) return Promise.reject(new AnswerClosed());
    if (!this.started) res.writeHead(this.status, { ...this.headers, 'Content-Type': this.type });
    this.started = true;
    res.write(part);
    // node:http corks the connection at an answer's first write in a tick and uncorks it on
    // the next tick (OutgoingMessage's write_): uncorked now, the part goes to the kernel at
    // once, and when the kernel took it all its memory is free before the next part.
    while (socket.writableCorked) socket.uncork();
    if (socket.writableLength === 0) return undefined;
    // A part is larger than the socket's high-water mark, so 'drain' comes once it is out.
    return this.wait(socket, 'drain');
  }

  /** Sends the last part (or the whole body, when no part went before) and ends the answer. */
  end(part: Buffer): Promise<void> | undefined {
    const res = this.res;
    if (res.destroyed) return Promise.reject(new AnswerClosed());
    if (!this.started) send(res, this.status, this.type, part, this.headers);
    else res.end(part);
    this.started = true;
    if (res.writableFinished) return undefined;
    return this.wait(res, 'finish');
  }

  /** Settles at `emitter`'s `event`; rejects when the connection closes first, or after `stallMs` (closing it). */
  private wait(emitter: EventEmitter, event: string): Promise<void> {
    const res = this.res;
    return new Promise<void>((resolve, reject) => {
      const settle = (err?: Error): void => {
        clearTimeout(timer);
        emitter.off(event, done);
        res.off('close', closed);
        if (err) reject(err);
        else resolve();
      };
      const done = (): void => settle();
      const closed = (): void => settle(new AnswerClosed());
      const timer = setTimeout(() => res.destroy(), this.stallMs);
      timer.unref();
      emitter.once(event, done);
      res.once('close', closed);
    });
  }
}

/** The connection of a `StreamedAnswer` closed before the body was out. */
export class AnswerClosed extends Error {
  override readonly name = 'AnswerClosed';

  constructor() {
    super('the connection closed before the answer was sent');
  }
}

/** A plain-text answer (text/plain; charset=utf-8). */
export function sendText(res: Response, status: number, text: string, headers?: Record<string, string>): void {
  send(res, status, PLAIN, text, headers);
}

/** A JSON answer (application/json; charset=utf-8). */
export function sendJson(res: Response, status: number, value: unknown, headers?: Record<string, string>): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

/** True when the client takes gzip over the identity encoding (Accept-Encoding, RFC 9110 §12.5.3). */
export function acceptsGzip(req: IncomingMessage): boolean {
  if (!req.headers['accept-encoding']) return false;
  return new Negotiator(req).encodings(['gzip', 'identity'])[0] === 'gzip';
}

/**
 * The request handler for `http.createServer`: every answer carries
 * `X-Content-Type-Options: nosniff`, then `guard` runs, then the route whose path equals
 * the request's, exactly: no case folding, no trailing slash dropped, no dot segments
 * resolved (a GET route answers HEAD too). A path no route has is 404, a method its routes
 * do not take 405 (with `Allow`), a request target that is not a path 400; an error a route
 * or the guard throws or passes to `next` is logged (`describe`) and answered 500 if
 * nothing was sent yet, else the connection is closed.
 */
export function handler(
  routes: readonly Route[],
  opts: {
    guard?: Guard;
    logger: Logger;
    /** What the log says of a route's error (default: its message). */
    describe?: (err: unknown) => string;
  },
): (req: IncomingMessage, res: ServerResponse) => void {
  const describe = opts.describe ?? ((err: unknown) => (err instanceof Error ? err.message : String(err)));
  const byPath = new Map<string, Route[]>();
  for (const r of routes) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
  const failed = (res: Response, err: unknown): void => {
    opts.logger.error({ err: describe(err) }, 'request failed');
    if (!res.headersSent) sendText(res, 500, 'Internal error.\n');
    else res.destroy();
  };
  const route = (req: IncomingMessage, res: ServerResponse): void => {
    // The request target in origin form (RFC 9112 §3.2.1): a path from "/", then a query.
    const target = req.url ?? '';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    if (!path.startsWith('/')) {
      sendText(res, 400, 'Bad request.\n');
      return;
    }
    const candidates = byPath.get(path);
    if (!candidates) {
      sendText(res, 404, 'Not found.\n');
      return;
    }
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const r = candidates.find((c) => c.method === method);
    if (!r) {
      sendText(res, 405, 'Method not allowed.\n', { Allow: [...new Set(candidates.flatMap((c) => (c.method === 'GET' ? ['GET', 'HEAD'] : [c.method])))].join(', ') });
      return;
    }
    const request = Object.assign(req, { path, query: new URLSearchParams(q < 0 ? '' : target.slice(q + 1)) });
    try {
      const done = r.handle(request, res);
      if (done) done.catch((err: unknown) => failed(res, err));
    } catch (err) {
      failed(res, err);
    }
  };
  return (req, res) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    if (!opts.guard) {
      route(req, res);
      return;
    }
    try {
      opts.guard(req, res, (err?: unknown) => (err === undefined ? route(req, res) : failed(res, err)));
    } catch (err) {
      failed(res, err);
    }
  };
}
