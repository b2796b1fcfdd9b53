/**
 * One HTTP exchange of the http probe over an undici dispatcher: the request, one retry
 * when a kept-alive connection turns out to be closed, and the body read up to a limit
 * on the bytes it decodes to.
 */
import { subscribe } from 'node:diagnostics_channel';
import { kMaxLength } from 'node:buffer';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw, type ZlibOptions } from 'node:zlib';
import { Client, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'undici/types/header.js';
import { clip, ProbeFailure } from './reasons.js';

/** What the probe asks for the Accept-Encoding header: every coding `decode` reads. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

/** The parts of a probe's request that stay the same from one probe to the next. */
export interface Endpoint {
  /** The dispatcher that keeps connections alive between probes. */
  readonly dispatcher: Dispatcher;
  /** For the one-off client that makes a retry's new connection: the agent's own options. */
  readonly clientOptions: Client.Options;
  readonly request: Dispatcher.DispatchOptions & { readonly origin: string };
  /** Most bytes the decoded body may have; over it the probe fails `body_too_large`. */
  readonly bodyLimit: number;
}

/**
 * The request and the response's head; `body()` reads the rest. Whoever holds it calls
 * `drop()` when done, which closes the connection if the body was not read to its end.
 */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /**
   * The body, decoded. Rejects with a ProbeFailure: `body_too_large` past the limit (or a
   * Content-Length already past it), `bad_body` for a coding it cannot decode; else with
   * the error undici or the socket raised.
   */
  body(): Promise<Buffer>;
  drop(): void;
}

/**
 * Sends the request and waits for the response head, within `signal` (the probe's
 * deadline, which covers the retry too). A failure on a connection that an earlier request
 * used, before any byte of the answer arrived and because the connection closed, is
 * retried once on a new connection: the server closed an idle keep-alive connection just
 * as the request went out (RFC 9112 section 9.3.1 lets a client retry such a request).
 * Never a second retry, never after a byte of the answer, never on a fresh connection.
 * Rejects with the error of the last attempt.
 */
export async function exchange(endpoint: Endpoint, signal: AbortSignal): Promise<Answer> {
  const first = new Attempt(endpoint, signal);
  send(first, endpoint.dispatcher, endpoint.request, true);
  try {
    return await first.head;
  } catch (err) {
    if (!first.mayRetry(err) || signal.aborted) throw err;
  }
  // A client of its own: the agent could hand the retry another idle connection that the
  // server has closed just the same.
  const client = new Client(endpoint.request.origin, endpoint.clientOptions);
  const second = new Attempt(endpoint, signal);
  send(second, client, { ...endpoint.request, reset: true }, false);
  // Closes the client once the retry is over, however it ends.
  client.close().catch(() => {});
  return second.head;
}

// A connection can only be seen to be reused in the requests undici writes to it: the
// request object undici creates for our dispatch (synchronously, inside dispatch()) is
// matched to our attempt, and the socket it is written on to the sockets written on before.
// Both channels are undici's documented diagnostics (docs/api/DiagnosticsChannel.md). If
// undici ever created the request later, nothing would match and no retry would happen.
let dispatching: Attempt | undefined;
const attempts = new WeakMap<object, Attempt>();
const usedSockets = new WeakSet<object>();
subscribe('undici:request:create', (message) => {
  if (!dispatching) return;
  attempts.set((message as { request: object }).request, dispatching);
  dispatching = undefined;
});
subscribe('undici:client:sendHeaders', (message) => {
  const { request, socket } = message as { request: object; socket: object };
  const attempt = attempts.get(request);
  if (!attempt) return;
  attempt.reused = usedSockets.has(socket);
  usedSockets.add(socket);
});

/** Dispatches an attempt; `watch` has the connection it goes out on checked for reuse. */
function send(attempt: Attempt, dispatcher: Dispatcher, request: Dispatcher.DispatchOptions, watch: boolean): void {
  if (watch) dispatching = attempt;
  try {
    dispatcher.dispatch(request, attempt);
  } finally {
    dispatching = undefined;
  }
}

/** Errors of a connection the server closed: the only ones a retry can cure. */
const CLOSED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/** Extra wire bytes a compressed body may take over its decoded size (deflate's stored blocks: 5 bytes per 64 KiB; gzip's frame). */
const wireAllowance = (limit: number): number => Math.ceil(limit / 1024) + 1024;

/** Aborts a body nobody reads; one instance, since nobody looks at it. */
const DROPPED = new Error('body not read');

class Attempt implements Dispatcher.DispatchHandler, Answer {
  status = 0;
  headers: IncomingHttpHeaders = {};
  /** The request went out on a connection an earlier request used. */
  reused = false;
  readonly head: Promise<Answer>;
  private settleHead!: { resolve: (a: Answer) => void; reject: (e: unknown) => void };
  private controller: Dispatcher.DispatchController | undefined;
  /** A byte of the answer arrived: from then on, never retried. */
  private started = false;
  private headDone = false;
  private ended = false;
  private error: unknown;
  private chunks: Buffer[] | undefined = [];
  private received = 0;
  private wireLimit: number;
  private codings: string[] = [];
  private waiter: { resolve: (b: Buffer) => void; reject: (e: unknown) => void } | undefined;
  private readonly onAbort = (): void => this.fail(this.signal.reason);

  constructor(
    private readonly endpoint: Endpoint,
    private readonly signal: AbortSignal,
  ) {
    this.wireLimit = endpoint.bodyLimit;
    this.head = new Promise<Answer>((resolve, reject) => (this.settleHead = { resolve, reject }));
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  mayRetry(err: unknown): boolean {
    const code = (err as { code?: unknown } | undefined)?.code;
    return this.reused && !this.started && typeof code === 'string' && CLOSED.has(code);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The deadline passed while the request waited for its connection.
    if (this.error !== undefined) controller.abort(this.error as Error);
  }

  /** Called by undici when the first byte of an answer is parsed (legacy name, still forwarded). */
  onResponseStarted(): void {
    this.started = true;
  }

  onResponseStart(_c: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    this.started = true;
    // 1xx answers come before the real one.
    if (status < 200) return;
    this.status = status;
    this.headers = headers;
    const codings = headers['content-encoding'];
    if (codings !== undefined) {
      this.codings = codingsOf(Array.isArray(codings) ? codings.join(',') : codings);
      if (this.codings.length > 0) this.wireLimit += wireAllowance(this.endpoint.bodyLimit);
    }
    this.headDone = true;
    this.settleHead.resolve(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.received += chunk.length;
    if (this.received > this.wireLimit) {
      controller.abort(new ProbeFailure('body_too_large', `more than ${this.wireLimit} bytes`));
      return;
    }
    this.chunks?.push(chunk);
  }

  onResponseEnd(): void {
    this.ended = true;
    this.signal.removeEventListener('abort', this.onAbort);
    if (this.waiter) this.waiter.resolve(this.raw());
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.fail(err);
  }

  body(): Promise<Buffer> {
    const unsupported = this.codings.find((c) => !DECODERS.has(c));
    if (unsupported !== undefined) {
      return Promise.reject(new ProbeFailure('bad_body', `unsupported content-encoding "${clip(unsupported, 40)}"`));
    }
    const declared = Number(this.headers['content-length']);
    if (declared > this.wireLimit) return Promise.reject(new ProbeFailure('body_too_large', `content-length ${declared}`));
    const wire = this.error !== undefined ? Promise.reject(this.error) : this.ended ? Promise.resolve(this.raw()) : new Promise<Buffer>((resolve, reject) => (this.waiter = { resolve, reject }));
    return this.codings.length === 0 ? wire : wire.then((raw) => decode(raw, this.codings, this.endpoint.bodyLimit));
  }

  drop(): void {
    this.chunks = undefined;
    if (!this.ended && this.error === undefined) this.controller?.abort(DROPPED);
  }

  private raw(): Buffer {
    const chunks = this.chunks ?? [];
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.received);
  }

  private fail(err: unknown): void {
    if (this.error !== undefined || this.ended) return;
    this.error = err;
    this.chunks = undefined;
    this.signal.removeEventListener('abort', this.onAbort);
    if (!this.headDone) this.settleHead.reject(err);
    else this.waiter?.reject(err);
    // Frees the connection; a request still waiting for one is aborted in onRequestStart.
    this.controller?.abort(err as Error);
  }
}

/** Content-Encoding values in the order they were applied, without `identity`. */
function codingsOf(header: string): string[] {
  const out: string[] = [];
  for (const part of header.split(',')) {
    const coding = part.trim().toLowerCase();
    if (coding !== '' && coding !== 'identity') out.push(coding);
  }
  return out;
}

type Decoder = (raw: Buffer, options: ZlibOptions) => Promise<Buffer>;

const gunzipAsync = promisify(gunzip) as Decoder;
const inflateAsync = promisify(inflate) as Decoder;
const inflateRawAsync = promisify(inflateRaw) as Decoder;
const brotliAsync = promisify(brotliDecompress) as Decoder;

/**
 * The codings the probe decodes (RFC 9110 section 8.4.1). `deflate` means zlib-wrapped
 * data (RFC 1950), but some servers send raw deflate (RFC 1951): the first two bytes tell
 * them apart, as browsers and curl do.
 */
const DECODERS = new Map<string, Decoder>([
  ['gzip', gunzipAsync],
  ['x-gzip', gunzipAsync],
  ['deflate', (raw, options) => (isZlibHeader(raw) ? inflateAsync(raw, options) : inflateRawAsync(raw, options))],
  ['br', brotliAsync],
]);

/** A zlib header (RFC 1950 section 2.2): method 8 (deflate), and CMF.FLG a multiple of 31. */
function isZlibHeader(raw: Buffer): boolean {
  return raw.length >= 2 && (raw[0]! & 0x0f) === 8 && ((raw[0]! << 8) | raw[1]!) % 31 === 0;
}

/**
 * Undoes the codings, last applied first. node:zlib stops a stage as soon as its output
 * passes `maxOutputLength` (ERR_BUFFER_TOO_LARGE), so a small body that expands to
 * gigabytes costs no more than the limit in memory and time.
 */
async function decode(raw: Buffer, codings: readonly string[], limit: number): Promise<Buffer> {
  // No body (HEAD, 204, 304) has nothing to decode, whatever the header says.
  if (raw.length === 0) return raw;
  const options: ZlibOptions = { maxOutputLength: Math.min(limit, kMaxLength) };
  let out = raw;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    try {
      out = await DECODERS.get(coding)!(out, options);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new ProbeFailure('body_too_large', `more than ${limit} bytes once decoded`);
      }
      throw new ProbeFailure('bad_body', `not valid ${coding} data`);
    }
  }
  return out;
}
