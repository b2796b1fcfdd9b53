import type { MapReader } from '../config/reader.js';
import type { ProbeReason } from '../metrics/catalogue.js';

/** The server fields a probe template may use: `{address}`, `{name}`, `{site}`, `{role}`, `{labels.x}`. */
export interface ServerFields {
  readonly name: string;
  readonly address: string;
  readonly site: string;
  readonly role: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What one probe found. A failed probe is data, never an exception. */
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
  readonly values?: Readonly<Record<string, number>>;
}

/** One ready-to-run probe of one component on one server. It must settle once `signal` aborts. */
export type Probe = (signal: AbortSignal) => Promise<ProbeResult>;

export interface ProbeContext {
  /** Directory that relative file paths in the configuration resolve against. */
  readonly baseDir: string;
  /** Replaces a key or fingerprint by a short keyed hash. */
  readonly hashKey: (raw: string) => string;
  /**
   * Claims one of the configuration's keep-alive slots: true when this probe may keep an
   * idle connection (one file descriptor) open between probes.
   */
  readonly claimKeepAlive: () => boolean;
}

/** A component's probe, validated and ready to bind to each server that runs the component. */
export interface PreparedProbe {
  /**
   * The probe of this component on one server.
   * @throws TemplateError when the settings cannot be filled in for this server (a label it
   * lacks, a URL its address does not make); the loader names the server.
   */
  bind(server: ServerFields): Probe;
  /** Releases pooled connections once a reload has replaced this probe. */
  close(): Promise<void>;
}

/**
 * A probe kind: validates its settings once at load time. Registered by name in
 * `registry.ts`; adding a kind is its own file and one line there.
 */
export type ProbeKind = (settings: MapReader, ctx: ProbeContext) => PreparedProbe;
