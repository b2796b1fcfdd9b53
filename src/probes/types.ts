import type { EndpointSettings, EndpointTarget } from '../config/types.js';
import type { ProbeReason } from '../reasons.js';

/**
 * A probe outcome that is the exporter's own doing, not the server's: its open files
 * exhausted (EMFILE, ENFILE), or its own event loop stalled past the probe's deadline.
 * Such an answer is no observation of the server.
 */
export type ExporterFault = 'open_files' | 'stalled';

/**
 * One endpoint's answer: whether the request succeeded and, for HTTP, what came back for
 * the components to read. Held only until every reading component has read it.
 */
export interface Answer {
  readonly success: boolean;
  readonly reason?: ProbeReason;
  /** Short, exporter-written words on the failure; never a raw error message or a secret. */
  readonly detail?: string;
  /** The body parsed as JSON, when a reading component needs it. */
  readonly body?: unknown;
  /** Response headers, names in lower case. */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** Set when the failure was the exporter's own (see ExporterFault): the server is not judged by it. */
  readonly exporterFault?: ExporterFault;
  /**
   * When the leaf certificate the server presented expires (its notAfter), in ms since the
   * epoch: set whenever a TLS handshake was accepted, even if the request then failed.
   */
  readonly certNotAfterMs?: number;
}

/** What one component found in its endpoint's answer. A failed probe is data, never an exception. */
export interface ProbeResult {
  readonly success: boolean;
  readonly reason?: ProbeReason;
  /**
   * Short, exporter-written words on the failure; never a raw error message or a secret.
   * The one piece of server text it may carry is the reason an answer gives for an
   * unhealthy status (`status "false": RAFT NO LEADER`), clipped to 120 characters.
   */
  readonly detail?: string;
  readonly status?: string;
  readonly version?: string;
  /** Keyed hash of the reported key or key fingerprint; the raw value never leaves the probe. */
  readonly keyHash?: string;
  /** Heartbeat the component reported, in ms since the epoch; only a valid one. */
  readonly heartbeatMs?: number;
  /**
   * Why an answer holds no valid heartbeat although one is configured, e.g.
   * `heartbeat "0" is before 2000-01-01`; at most about 90 characters (server text clipped).
   */
  readonly heartbeatProblem?: string;
  readonly os?: string;
  /** The node's clock when it made the answer (`Reading.clock`), ms since the epoch; only a valid one. */
  readonly nodeTimeMs?: number;
  readonly values?: Readonly<Record<string, number>>;
  /** Text facts by name, trimmed, at most 64 characters each. */
  readonly facts?: Readonly<Record<string, string>>;
  /** Configured values and facts the answer did not hold as a number or text, e.g. `value sessions: "n/a" is not a number`. */
  readonly problems?: readonly string[];
  /** The answer's `certNotAfterMs`: when the leaf certificate of the endpoint's TLS connection expires. */
  readonly certNotAfterMs?: number;
}

/**
 * What a probe is told of its deadline: the part of the DOM's AbortSignal that probes use,
 * so that an AbortSignal (the agent's `AbortSignal.timeout()`) serves as well as the
 * monitor's lighter `Deadline` (src/monitor/deadline.ts). Once `aborted`,
 * `reason` says why, and each `abort` listener has run once.
 */
export interface ProbeSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** One ready-to-run probe of one endpoint of one server. It must settle once `signal` aborts. */
export type EndpointProbe = (signal: ProbeSignal) => Promise<Answer>;

export interface ProbeContext {
  /**
   * Claims one of the configuration's keep-alive slots for a TLS (`tls`) or plain-HTTP
   * connection: true when this probe may keep an idle connection (one file descriptor)
   * open between probes (see KeepAliveBudget).
   */
  readonly claimKeepAlive: (tls: boolean) => boolean;
}

/** An endpoint as the cluster declares it, ready to bind to each server that has it. */
export interface PreparedEndpoint {
  /** The probe of this endpoint on one server; `needsJson` when a reader needs the body parsed. */
  bind(target: EndpointTarget, needsJson: boolean): EndpointProbe;
  /** Releases pooled connections once a reload has replaced this endpoint. */
  close(): Promise<void>;
}

/**
 * A probe kind: builds what every server's probe of an endpoint shares (connection
 * pools). Registered by kind in `registry.ts`; adding a kind is its own file, its settings
 * in the configuration schema, and one line there.
 */
export type ProbeKind<S extends EndpointSettings = EndpointSettings> = (settings: S, ctx: ProbeContext) => PreparedEndpoint;
