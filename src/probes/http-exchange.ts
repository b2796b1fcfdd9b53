/**
 * One HTTP exchange of the http probe over Node's own HTTP client (node:http, node:https):
 * the request, one retry when a kept-alive connection turns out to be closed, and the body
 * read up to a limit on the bytes it decodes to.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { kMaxLength } from 'node:buffer';
import { createConnection, type NetConnectOpts, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw, type ZlibOptions } from 'node:zlib';
import { clip, ProbeFailure } from './reasons.js';
import { certNotAfterMs } from './tls.js';
import type { ProbeSignal } from './types.js';

/** What the probe asks for the Accept-Encoding header: every coding `decode` reads. */
export const ACCEPT_ENCODING = 'gzip, deflate, br';

/** Most bytes of a response head (status line and headers), as Node's default `--max-http-header-size`. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** The parts of a probe's request that stay the same from one probe to the next. */
export interface Endpoint {
  /** `https:` requests go out through node:https, with the agent's TLS options. */
  readonly secure: boolean;
  /** Keeps connections alive between probes, or opens one per request (see `oneOff`). */
  readonly agent: HttpAgent | undefined;
  /**
   * Opens a new connection for every request: a retry's, and every request of an endpoint
   * without keep-alive. Undefined for plain HTTP: such a request connects by itself, without
   * an agent (see `oneOffAgent`).
   */
  readonly oneOff: HttpAgent | undefined;
  /** Host (bare, IPv6 without brackets), port, path, method, headers. */
  readonly request: RequestOptions;
  /** Sent as written (POST), else no body. */
  readonly body?: string;
  /** Most bytes the decoded body may have; over it the probe fails `body_too_large`. */
  readonly bodyLimit: number;
}

/**
 * The agents of one endpoint setting, shared by every server's probe of it: `keepAlive`
 * keeps one idle connection per server between probes, `oneOff` closes each after its
 * answer (none for plain HTTP, see `oneOffAgent`). Idle connections are closed after 60 s, or a second before the server's own
 * `Keep-Alive: timeout=N` (node:http's Agent reads that hint). TCP keep-alive probes start
 * after 60 s idle, so an idle connection between probes sends none.
 */
export function agentsFor(secure: boolean, tls: object | undefined): { keepAlive: HttpAgent; oneOff: HttpAgent | undefined } {
  const Agent = secure ? HttpsAgent : HttpAgent;
  return {
    keepAlive: new Agent({ ...tls, keepAlive: true, keepAliveMsecs: 60_000, timeout: 60_000 }),
    oneOff: oneOffAgent(secure, tls),
  };
}

/**
 * What opens a new connection for every request and closes it after the answer
 * (`Connection: close`): over TLS an agent without keep-alive (it names the server for SNI
 * and the certificate check as node:https does); for plain HTTP none, and the request
 * connects by itself. An agent per request costs three copies of its options (one a
 * dictionary), four closures and its socket bookkeeping: at 30,000 components probed
 * afresh, a sixth of all the memory allocated and about 5% of the CPU.
 */
export function oneOffAgent(secure: boolean, tls: object | undefined): HttpAgent | undefined {
  return secure ? new HttpsAgent({ ...tls, keepAlive: false }) : undefined;
}

/** A new plain TCP connection for a request without an agent, with Nagle's algorithm off as node:http's Agent has it. */
const newConnection = (options: object): Socket => createConnection({ ...(options as NetConnectOpts), noDelay: true });

/** Where a request to an http:// or https:// URL goes. */
export interface UrlTarget {
  readonly secure: boolean;
  /** The host as a connection takes it: an IPv6 address without the URL's brackets. */
  readonly host: string;
  /** The URL's port, else the scheme's (80, 443). */
  readonly port: number;
  /** Path and query. */
  readonly path: string;
}

/** The parts of a URL (already checked to be http:// or https://) that a request needs. Throws TypeError on a URL that does not parse. */
export function urlTarget(url: string): UrlTarget {
  const { protocol, hostname, port, pathname, search } = new URL(url);
  const secure = protocol === 'https:';
  return {
    secure,
    host: hostname.startsWith('[') ? hostname.slice(1, -1) : hostname,
    port: port === '' ? (secure ? 443 : 80) : Number(port),
    path: `${pathname}${search}`,
  };
}

/**
 * The request and the response's head; `body()` reads the rest. Whoever holds it calls
 * `drop()` when done, which closes the connection if the body did not arrive to its end.
 */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** When the leaf certificate of the connection the answer came on expires (ms since the epoch); undefined over plain HTTP. */
  readonly certNotAfterMs: number | undefined;
  /**
   * The body, decoded. Rejects with a ProbeFailure: `body_too_large` past the limit (or a
   * Content-Length already past it), `bad_body` for a coding it cannot decode; else with
   * the error the socket or parser raised (ECONNRESET for a body cut short).
   */
  body(): Promise<Buffer>;
  drop(): void;
}

/**
 * Sends the request and waits for the response head, within `signal` (the probe's
 * deadline, which covers the retry too). A failure on a connection that an earlier request
 * used, before any byte of the answer arrived and because the connection closed, is
 * retried once on a new connection: the server closed an idle keep-alive connection just
 * as the request went out (RFC 9112 section 9.3.1 lets a client retry such a request; the
 * Node.js documentation of `request.reusedSocket` shows the same retry). Never a second
 * retry, never after a byte of the answer, never on a fresh connection. Rejects with the
 * error of the last attempt.
 */
export async function exchange(endpoint: Endpoint, signal: ProbeSignal): Promise<Answer> {
  const first = new Attempt(endpoint, signal, endpoint.agent);
  try {
    return await first.head;
  } catch (err) {
    if (!first.mayRetry(err) || signal.aborted) throw err;
  }
  // A connection of its own: the pool could hand the retry another idle connection that
  // the server has closed just the same.
  return new Attempt(endpoint, signal, endpoint.oneOff).head;
}

/** Errors of a connection the server closed: the only ones a retry can cure. */
const CLOSED = new Set(['ECONNRESET', 'EPIPE']);

/** Extra wire bytes a compressed body may take over its decoded size (deflate's stored blocks: 5 bytes per 64 KiB; gzip's frame). */
const wireAllowance = (limit: number): number => Math.ceil(limit / 1024) + 1024;

/** Destroys a request whose body nobody reads; one instance, since nobody looks at it. */
const DROPPED = new Error('body not read');

class Attempt implements Answer {
  status = 0;
  headers: IncomingHttpHeaders = {};
  certNotAfterMs: number | undefined;
  readonly head: Promise<Answer>;
  private settleHead!: { resolve: (a: Answer) => void; reject: (e: unknown) => void };
  /** Undefined when Node refused to make the request (a control byte in a configured header). */
  private readonly req: ClientRequest | undefined;
  private socket: Socket | undefined;
  /** The socket's bytesRead when this request got it: later bytes are this request's answer. */
  private bytesBefore = 0;
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
    private readonly signal: ProbeSignal,
    agent: HttpAgent | undefined,
  ) {
    this.wireLimit = endpoint.bodyLimit;
    this.head = new Promise<Answer>((resolve, reject) => (this.settleHead = { resolve, reject }));
    const send = endpoint.secure ? httpsRequest : httpRequest;
    let req: ClientRequest;
    try {
      req = send(
        agent
          ? { ...endpoint.request, agent, maxHeaderSize: MAX_HEADER_BYTES }
          : // Without an agent and with createConnection, node:http opens this connection for this request alone.
            // defaultPort: without an agent node:http knows none, and would send `Host: h:80`.
            { ...endpoint.request, createConnection: newConnection, defaultPort: 80, maxHeaderSize: MAX_HEADER_BYTES },
      );
    } catch (err) {
      this.error = err;
      this.settleHead.reject(err);
      return;
    }
    this.req = req;
    req.on('socket', (socket) => {
      this.socket = socket;
      this.bytesBefore = socket.bytesRead;
    });
    req.on('response', (res) => this.onResponse(res));
    req.on('error', (err) => this.fail(err));
    req.on('close', () => {
      // Closed before the answer was complete and without an error of its own.
      if (this.ended) return;
      this.fail(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    });
    signal.addEventListener('abort', this.onAbort, { once: true });
    req.end(endpoint.body);
  }

  /** The request went out on a reused connection and failed on its close before any byte of its answer. */
  mayRetry(err: unknown): boolean {
    const code = (err as { code?: unknown } | undefined)?.code;
    const answered = this.headDone || (this.socket !== undefined && this.socket.bytesRead > this.bytesBefore);
    return this.req?.reusedSocket === true && !answered && typeof code === 'string' && CLOSED.has(code);
  }

  private onResponse(res: IncomingMessage): void {
    const status = res.statusCode ?? 0;
    this.status = status;
    this.headers = res.headers;
    this.certNotAfterMs = certNotAfterMs(this.socket);
    const codings = res.headers['content-encoding'];
    if (codings !== undefined) {
      this.codings = codingsOf(codings);
      if (this.codings.length > 0) this.wireLimit += wireAllowance(this.endpoint.bodyLimit);
    }
    res.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      if (this.received > this.wireLimit) {
        this.fail(new ProbeFailure('body_too_large', `more than ${this.wireLimit} bytes`));
        return;
      }
      this.chunks?.push(chunk);
    });
    res.on('end', () => {
      this.ended = true;
      this.signal.removeEventListener('abort', this.onAbort);
      if (this.waiter) this.waiter.resolve(this.raw());
    });
    // A body cut short, by a reset or a close, is ECONNRESET ("aborted"): Node cannot
    // always tell the two apart (a reset after the last byte read can show as a close).
    res.on('error', (err) => this.fail(err));
    this.headDone = true;
    this.settleHead.resolve(this);
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
    if (!this.ended && this.error === undefined) this.fail(DROPPED);
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
    // Closes the connection: it is in an unknown state.
    this.req?.destroy();
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
