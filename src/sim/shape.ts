import type { IncomingHttpHeaders } from 'node:http';
import type { Fault, FaultState } from './faults.js';

/**
 * What a simulated listener answers: the generic health document, one product's documents,
 * or a bare TCP port. One file per shape under `shapes/`, one map in `shapes/registry.ts`.
 * A shape never sees sockets: the listener applies the transport faults (down, hang, slow,
 * http500, malformed, oversized, flapping) around the reply the shape builds.
 */

/** One simulated server as a shape sees it. */
export interface SimServerView {
  readonly name: string;
  readonly address: string;
  /** 0 for the first server of the cluster. */
  readonly index: number;
  /** True when any of the server's components has `fault` switched on. */
  hasFault(fault: Fault): boolean;
}

/** The cluster as a shape sees it: every server, and the settings all servers share. */
export interface SimClusterView {
  readonly servers: readonly SimServerView[];
  readonly version: string;
  readonly key: string;
  readonly os: string;
  readonly exposeRawKey: boolean;
}

/** One request to one listener. */
export interface AnswerContext {
  readonly server: SimServerView;
  readonly component: string;
  readonly faults: ReadonlyMap<Fault, FaultState>;
  /** Requests this listener has taken, this one included. */
  readonly requests: number;
  readonly method: string;
  /** Path and query of the request. */
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
}

/** An HTTP answer: status code, content type, body text and any further headers. */
export interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

interface ShapeBase {
  /**
   * The faults this shape gives a meaning beyond the transport ones, each with what it does
   * here: the simulator refuses the others on this shape, and `list` shows them.
   */
  readonly faults: Readonly<Partial<Record<Fault, string>>>;
  /** Called after any fault of the cluster changed: state that spans servers (a primary, a timeline). */
  faultsChanged?(): void;
}

export interface HttpShape extends ShapeBase {
  readonly protocol: 'http';
  answer(ctx: AnswerContext): Reply;
}

/** A bare TCP port (a database, a peer or messenger port): it accepts connections, and that is all. */
export interface TcpShape extends ShapeBase {
  readonly protocol: 'tcp';
}

export type Shape = HttpShape | TcpShape;

/** A JSON reply. */
export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return { status, contentType: 'application/json', body: JSON.stringify(body), ...(headers ? { headers } : {}) };
}

/** The reply to a path the product does not serve. */
export const NOT_FOUND: Reply = json(404, { error: 'not found' });

/** The reply to a method the path does not take. */
export function methodNotAllowed(allow: string): Reply {
  return json(405, { error: 'method not allowed' }, { allow });
}
