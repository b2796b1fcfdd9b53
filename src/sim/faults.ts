/**
 * Faults a simulated component can be switched into while it runs. The first eleven are
 * the generic server's; a product-shaped server shows each in its own documents where they
 * can hold it (see each shape's `faults`) and refuses the others (no product here reports
 * a key). The last eight belong to one product each.
 */
export const FAULTS = [
  'down', // listener closed: connection refused
  'hang', // accepts and never answers
  'slow', // answers after `value` ms (default 3000)
  'http500', // answers HTTP 500
  'unhealthy', // answers 200 with status "degraded" (a product: its own unhealthy answer)
  'malformed', // answers its document cut in the middle
  'oversized', // streams a body without end (up to 1 GiB) until the client goes away
  'version_drift', // reports version `value` (default 0.0.1-drift)
  'key_drift', // reports another encryption key
  'frozen_heartbeat', // reports the heartbeat of the moment the fault was set
  'flapping', // every other request fails with HTTP 503
  'database_error', // ProGet: databaseStatus Error, HTTP 500
  'license_error', // ProGet: licenseStatus Error, HTTP 500
  'service_error', // ProGet: serviceStatus Error, HTTP 500
  'tm_stopped', // SecureTransport: the Transaction Manager is not running
  'daemon_stopped', // SecureTransport: protocol daemon `value` (default ssh) is not running
  'replica', // Patroni: this server answers role "replica", even as the primary
  'switchover', // Patroni: the primary role moves to this server
  'quorum_loss', // etcd: this member has no quorum (on every member: `fault all quorum_loss`)
] as const;
export type Fault = (typeof FAULTS)[number];

/** Faults every HTTP listener answers the same way, whatever document it serves. */
export const TRANSPORT_FAULTS: readonly Fault[] = ['down', 'hang', 'slow', 'http500', 'malformed', 'oversized', 'flapping'];

/** Faults that one server of a cluster holds at a time: setting one clears it elsewhere. */
export const EXCLUSIVE_FAULTS: readonly Fault[] = ['switchover'];

/** A fault switched on: since when (epoch ms), with its value (`slow` ms, a version, a detail). */
export interface FaultState {
  readonly fault: Fault;
  readonly value?: string;
  readonly since: number;
}
