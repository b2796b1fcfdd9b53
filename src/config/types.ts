import type { Secret } from './secret.js';
import type { FactSource, Source, StatusRule } from './schema.js';

export type { EqualFact, FactSource, Source, StatusRule } from './schema.js';

/**
 * The loaded configuration as plain, immutable data: what every later stage reads. Probes
 * are built from it in `src/probes`; nothing here opens a socket. Times are milliseconds.
 */

export type Role = 'active' | 'standby';

/** The server fields a template may use: `{address}`, `{name}`, `{site}`, `{role}`, `{labels.x}`. */
export interface ServerFields {
  readonly name: string;
  /** As configured: IPv4, IPv6 with or without brackets, or a host name. */
  readonly address: string;
  readonly site: string;
  readonly role: Role;
  readonly labels: Readonly<Record<string, string>>;
}

/** TLS settings of a probe, files read at load time. */
export interface TlsOptions {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Secret<Buffer>;
  readonly serverName?: string;
  readonly insecureSkipVerify: boolean;
}

/** An HTTP endpoint as the cluster declares it; `url` is a template filled in per server. */
export interface HttpEndpoint {
  readonly kind: 'http';
  readonly url: string;
  readonly method: 'GET' | 'HEAD' | 'POST';
  /** Configured request headers, as written. */
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as written; only with POST. */
  readonly body?: string;
  /** The `Authorization` header from basic_auth or a bearer token. */
  readonly authorization?: Secret;
  readonly tls?: TlsOptions;
  /** Undefined: any 2xx. */
  readonly validStatusCodes?: readonly number[];
  /** Bytes. */
  readonly bodySizeLimit: number;
  /**
   * True when the URL's scheme and authority hold a template field, so every server is
   * an origin of its own; false when all servers share one origin (a management console).
   */
  readonly perServerOrigin: boolean;
}

/** A TCP endpoint; `host` (default `{address}`) and a templated `port` are filled in per server. */
export interface TcpEndpoint {
  readonly kind: 'tcp';
  readonly host: string;
  readonly port: number | string;
  /** A TLS handshake after connecting, when set. */
  readonly tls?: TlsOptions;
}

/**
 * A product's own Prometheus text exposition, fetched as an http endpoint with method GET
 * (`/metrics` of etcd, Patroni): its samples are what components read.
 */
export interface PrometheusEndpoint extends Omit<HttpEndpoint, 'kind' | 'method' | 'body'> {
  readonly kind: 'prometheus';
  readonly method: 'GET';
}

/** A PostgreSQL endpoint: one read-only query per probe on a connection of its own. */
export interface PostgresEndpoint {
  readonly kind: 'postgres';
  readonly host: string;
  readonly port: number | string;
  readonly database: string;
  readonly user: string;
  readonly password?: Secret;
  /** TLS required when set; none when not. */
  readonly tls?: TlsOptions;
  readonly query: string;
}

export type EndpointSettings = HttpEndpoint | TcpEndpoint | PrometheusEndpoint | PostgresEndpoint;

/** An endpoint declared by a cluster, shared (`endpoints:`) or a component's own (`probe:`). */
export interface EndpointDef {
  /** The name under `endpoints:`, or `~COMPONENT` for a component's own probe. */
  readonly name: string;
  readonly settings: EndpointSettings;
}

/** Where one server's copy of an endpoint connects, templates filled in. */
export type EndpointTarget = { readonly url: string } | { readonly host: string; readonly port: number };

/** One endpoint of one server: probed once per interval, read by one or more components. */
export interface ServerEndpoint {
  /** Identifies the endpoint's schedule across reloads: cluster, server and endpoint name. */
  readonly key: string;
  readonly name: string;
  readonly def: EndpointDef;
  readonly target: EndpointTarget;
  /** The shortest heartbeat interval of the components that read it. */
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Some reading component needs the body parsed as JSON. */
  readonly needsJson: boolean;
}

/** What a component reads from its endpoint's answer. */
export interface Reading {
  readonly status?: StatusRule;
  readonly version?: Source;
  readonly keyFingerprint?: Source;
  /** A raw key: replaced by a keyed hash as it is read, never kept. */
  readonly key?: Source;
  readonly heartbeat?: Source;
  readonly os?: Source;
  /** The node's clock at the answer (the agent's `node.time`), for the node's clock offset. */
  readonly clock?: Source;
  /** Numbers, by value name (a metric-name fragment, unit included: `queue_age_seconds`). */
  readonly values: Readonly<Record<string, Source>>;
  /** Text facts, by fact name (`role`, `leader`): one place of the answer, or two compared. */
  readonly facts: Readonly<Record<string, FactSource>>;
}

/** One component as one server runs it, with cluster, component and server settings merged. */
export interface ComponentConfig {
  readonly name: string;
  /** Identifies the component's record across reloads: cluster, server and component name. */
  readonly key: string;
  /** The `ServerEndpoint.key` it reads. */
  readonly endpoint: string;
  readonly required: boolean;
  readonly staleTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Its own, else the cluster's. */
  readonly expectedVersion?: string;
  readonly read: Reading;
}

export interface ServerConfig extends ServerFields {
  readonly components: readonly ComponentConfig[];
  readonly endpoints: readonly ServerEndpoint[];
}

/** "Between min and max servers report fact `fact` with one of `values`" (e.g. exactly one primary). */
export interface FactExpectation {
  readonly name: string;
  readonly fact: string;
  /** Trimmed and lower-cased; compared with the reported value trimmed and lower-cased. */
  readonly values: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

export interface ClusterConfig {
  readonly name: string;
  readonly heartbeatIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly staleTimeoutMs: number;
  /**
   * `load_balancing` as the file sets it; undefined when it does not. No documented API
   * of the products publishes it (docs/presets/proget.md, securetransport.md): it is
   * reported as configured, never read or judged.
   */
  readonly loadBalancing?: boolean;
  /** `automatic_failover` as the file sets it; undefined when it does not (as loadBalancing). */
  readonly automaticFailover?: boolean;
  readonly expectedVersion?: string;
  /** SecureTransport's "Minimum Number of Nodes": active servers that should be online. */
  readonly minServersOnline?: number;
  readonly factExpectations: readonly FactExpectation[];
  readonly endpoints: readonly EndpointDef[];
  readonly servers: readonly ServerConfig[];
}

/** A loaded, validated configuration. Immutable; a reload swaps it whole. */
export interface Config {
  readonly file: string;
  /** SHA-256 of the file's text and its presets' texts: a reload that gives the same is not applied again. */
  readonly hash: string;
  /**
   * SHA-256 of the file's own text (`textHash`): a reload that reads the same text is answered
   * "unchanged" without being parsed again. Presets change only with the program.
   */
  readonly textHash: string;
  /** The HMAC secret for key fingerprints; undefined: a random one per process. */
  readonly keyHashSecret?: Secret;
  readonly clusters: readonly ClusterConfig[];
  /**
   * What the user wrote that does not apply as they may think (a preset's component timing
   * kept over their `global`), one line each with file, line and column: printed by
   * `--config.check` and logged at start and reload. Absent when there is nothing to say.
   */
  readonly warnings?: readonly string[];
}
