import type { Role } from '../config/types.js';
import type { ProbeReason } from '../reasons.js';
import type { ClusterEvent } from './events.js';
import type { RecentChecks } from './recent.js';

/**
 * The judged state of every configured cluster at one instant. Immutable and JSON-ready:
 * `/api/v1/status` serves it as it is, so it holds no secret (keys appear only as a count
 * of distinct fingerprints). Times are seconds since the epoch.
 */
export interface Snapshot {
  readonly generatedAt: number;
  readonly clusters: readonly ClusterStatus[];
  /** The exporter's own latest events (start, reloads and their outcome), newest first. */
  readonly recentEvents: readonly ClusterEvent[];
}

/** Whether any component is configured to read each of these; false shows as "not configured". */
export interface Reads {
  readonly version: boolean;
  readonly key: boolean;
  readonly os: boolean;
}

export interface ClusterStatus {
  readonly name: string;
  readonly heartbeatIntervalSeconds: number;
  readonly probeTimeoutSeconds: number;
  readonly staleTimeoutSeconds: number;
  /**
   * As configured (`load_balancing`), null when the configuration does not set it: no
   * documented API of the products publishes it, so it is never read from a server.
   */
  readonly loadBalancing: boolean | null;
  /** As configured (`automatic_failover`), null when the configuration does not set it. */
  readonly automaticFailover: boolean | null;
  /**
   * Servers whose up component reports the value `automatic_failover_paused` at 1 (the
   * patroni preset reads it from Patroni's `patroni_is_paused`: maintenance mode): while any
   * does, automatic failover is shown as paused whatever the configuration says.
   */
  readonly automaticFailoverPausedBy: readonly string[];
  readonly expectedVersion: string | null;
  /** The version each component name is held to: expected_version, else a strict majority's. */
  readonly referenceVersions: Readonly<Record<string, string>>;
  /**
   * Component names whose versions disagree with no strict majority (and no
   * expected_version): every server reporting one is out of sync, "no majority".
   */
  readonly versionsWithoutMajority: readonly string[];
  /** Key fingerprints disagree and none has a strict majority: every server is out of sync. */
  readonly keyWithoutMajority: boolean;
  readonly keyFingerprints: number;
  readonly reads: Reads;
  readonly serversTotal: number;
  readonly serversOnline: number;
  /** Servers not judged yet (a component not probed once). */
  readonly serversPending: number;
  readonly expectations: readonly ExpectationStatus[];
  /** The cluster's latest events, newest first (at most 10; `/api/v1/events` has more). */
  readonly recentEvents: readonly ClusterEvent[];
  readonly servers: readonly ServerStatus[];
}

/**
 * One cluster expectation: `min_servers_online` (SecureTransport's "Minimum Number of
 * Nodes") or a count of servers reporting a fact value (exactly one primary).
 */
export interface ExpectationStatus {
  /** `min_servers_online`, or the configured name of a fact expectation (default: the fact). */
  readonly name: string;
  /** Servers counted: active servers online, or servers reporting the fact value. */
  readonly servers: number;
  readonly min: number | null;
  readonly max: number | null;
  /** Null while some server has not been judged yet. */
  readonly met: boolean | null;
  /** The servers counted, by name. */
  readonly matching: readonly string[];
  /** One line for people: "2 of 4 active servers online, minimum 3". */
  readonly summary: string;
}

export type ServerState = 'online' | 'offline' | 'pending';

export interface ServerStatus {
  readonly name: string;
  readonly address: string;
  readonly site: string;
  readonly role: Role;
  readonly labels: Readonly<Record<string, string>>;
  readonly os: string | null;
  readonly reads: Reads;
  /** `pending` until every component has been probed once. */
  readonly state: ServerState;
  /** Why the server is offline, e.g. `service: connection_refused` or `web: stale`. */
  readonly reason: string | null;
  /**
   * When the server entered `state`, as this exporter judged it (a restart starts over):
   * seconds since the epoch; null when the snapshot was not taken by a monitor.
   */
  readonly since: number | null;
  /**
   * The node's clock minus the exporter's, in seconds, as its moving heartbeats show it: an
   * offset the clock certainly has (0 when they fit the exporter's clock); null when no
   * heartbeat has moved.
   */
  readonly clockOffsetSeconds: number | null;
  readonly components: readonly ComponentStatus[];
}

/**
 * `unknown`: the server refused the exporter's credentials (reason `unauthorized`): the
 * server answered, the component is not judged, and it never takes its server offline.
 */
export type ComponentState = 'up' | 'down' | 'stale' | 'unknown' | 'pending';

export interface ComponentStatus {
  readonly name: string;
  readonly required: boolean;
  readonly state: ComponentState;
  /** Whether the last probe succeeded; null before the first probe and while `unknown`. */
  readonly up: boolean | null;
  readonly reason: ProbeReason | null;
  readonly detail: string | null;
  readonly status: string | null;
  readonly version: string | null;
  /** The version is last known: the last probe read no answer (see `factsLastKnownAt`). */
  readonly versionLastKnown: boolean;
  /** Null while the version is unknown or last known: only current facts are compared. */
  readonly versionInSync: boolean | null;
  readonly keyInSync: boolean | null;
  /**
   * When the last probe read no answer (down, unknown), the version, key, OS and facts
   * shown are those of the last answer read, at this instant (seconds since the epoch):
   * last known, never counted or compared as current. Null while they are current.
   */
  readonly factsLastKnownAt: number | null;
  /** The reported heartbeat when valid (on the node's clock), else the last successful probe. */
  readonly lastHeartbeat: number | null;
  /**
   * Why the reported heartbeat is not used (the last successful probe stands in), e.g.
   * `heartbeat "0" is before 2000-01-01`; null when it is valid or none is configured.
   * Holds server text, clipped.
   */
  readonly heartbeatProblem: string | null;
  /** How long the heartbeat has not moved, on the exporter's clock: what staleness is judged by. */
  readonly heartbeatAgeSeconds: number | null;
  readonly staleTimeoutSeconds: number;
  readonly stale: boolean;
  /** The clock offset this component's moving heartbeat shows (see ServerStatus.clockOffsetSeconds). */
  readonly clockOffsetSeconds: number | null;
  readonly lastProbe: number | null;
  readonly probeDurationSeconds: number | null;
  /**
   * When the leaf certificate of the component's TLS endpoint expires (seconds since the
   * epoch), as the last probe's handshake was served; null over plain connections and when
   * the last probe made no accepted handshake (refused, or the certificate failed checks).
   */
  readonly tlsCertExpiry: number | null;
  readonly failures: Readonly<Partial<Record<ProbeReason, number>>>;
  /** Failed probes since the exporter started, whatever the reason. */
  readonly failuresTotal: number;
  /** Numbers the last answer held, by configured value name. */
  readonly values: Readonly<Record<string, number>>;
  /** Text facts of the latest answer read (role, leader), by configured fact name. */
  readonly facts: Readonly<Record<string, string>>;
  /** Configured facts the last answer read did not hold, e.g. `value sessions: missing`, `key: agent error not_found`. */
  readonly problems: readonly string[];
  /** The last probe results, oldest first (up, stale, or down with the reason). */
  readonly recent: RecentChecks;
}
