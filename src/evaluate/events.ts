/**
 * What happened, like a console's server log: one entry per change of judgement between
 * two consecutive snapshots (never between two probes no snapshot showed), and the
 * exporter's own start and reloads. JSON-ready: `GET /api/v1/events` serves them as they are.
 */
export type EventKind =
  | 'server_offline'
  | 'server_online'
  | 'component_down'
  | 'component_stale'
  | 'component_unknown'
  | 'component_up'
  | 'version_drift'
  | 'version_in_sync'
  | 'key_drift'
  | 'key_in_sync'
  | 'fact_changed'
  | 'expectation_not_met'
  | 'expectation_met'
  | 'started'
  | 'reloaded'
  | 'reload_failed';

export interface ClusterEvent {
  /** Seconds since the epoch: the instant of the snapshot that first showed the change. */
  readonly time: number;
  readonly kind: EventKind;
  /** `warning` for what an operator acts on (a server offline, drift, an expectation not met). */
  readonly severity: 'info' | 'warning';
  /** Null for the exporter's own events (start, reload). */
  readonly cluster: string | null;
  readonly server: string | null;
  readonly component: string | null;
  /** The fact or expectation the event is about. */
  readonly subject: string | null;
  /** The value or state before and after (a fact's values, versions, component states). */
  readonly from: string | null;
  readonly to: string | null;
  /** Why: a probe reason, an offline reason, an error message. */
  readonly reason: string | null;
  /** One line for people. Server text in it is clipped (see probes/extract.ts). */
  readonly message: string;
}

/** Longest error text kept in a reload_failed event. */
const MAX_ERROR = 400;

function event(
  time: number,
  kind: EventKind,
  severity: ClusterEvent['severity'],
  where: { cluster?: string | null; server?: string | null; component?: string | null },
  fields: { subject?: string | null; from?: string | null; to?: string | null; reason?: string | null },
  message: string,
): ClusterEvent {
  return {
    time,
    kind,
    severity,
    cluster: where.cluster ?? null,
    server: where.server ?? null,
    component: where.component ?? null,
    subject: fields.subject ?? null,
    from: fields.from ?? null,
    to: fields.to ?? null,
    reason: fields.reason ?? null,
    message,
  };
}

/** Seconds as `45s`, `3m 10s`, `2h 5m`, `3d 4h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Builders of each kind of event; `time` in seconds since the epoch. */
export const events = {
  /**
   * A server judged Offline, `from` the state it was in. From `pending` (its first judgement
   * since the exporter started, or since a reload added it) it is no news of a change: the
   * server may have been down long before, so it is said as found, not as a fresh warning.
   */
  serverOffline: (time: number, cluster: string, server: string, from: 'online' | 'pending', reason: string | null, standby: boolean): ClusterEvent => {
    // A standby server of a disaster-recovery site shows but does not page.
    const severity = standby || from === 'pending' ? 'info' : 'warning';
    const what = from === 'pending' ? 'offline when first checked' : 'offline';
    return event(time, 'server_offline', severity, { cluster, server }, { from, to: 'offline', reason }, `${server} ${what}${reason ? `: ${reason}` : ''}`);
  },

  serverOnline: (time: number, cluster: string, server: string, offlineSeconds: number | null): ClusterEvent =>
    event(time, 'server_online', 'info', { cluster, server }, { from: 'offline', to: 'online' }, `${server} back online${offlineSeconds === null ? '' : ` after ${formatDuration(offlineSeconds)} offline`}`),

  component: (time: number, cluster: string, server: string, component: string, from: string, to: 'up' | 'down' | 'stale' | 'unknown', reason: string | null): ClusterEvent => {
    const kind = to === 'up' ? 'component_up' : to === 'down' ? 'component_down' : to === 'stale' ? 'component_stale' : 'component_unknown';
    // Unknown: the server refused the exporter's credentials, which whoever runs the monitoring must fix.
    const what = to === 'unknown' ? 'unknown, cannot authenticate' : to;
    return event(time, kind, to === 'unknown' ? 'warning' : 'info', { cluster, server, component }, { from, to, reason }, `${server} ${component} ${what}${reason ? `: ${reason}` : ''}`);
  },

  /** `reference` null: the versions disagree with no strict majority. */
  versionDrift: (time: number, cluster: string, server: string, component: string, version: string, reference: string | null): ClusterEvent =>
    event(time, 'version_drift', 'warning', { cluster, server, component }, { from: reference, to: version, reason: reference === null ? 'no majority' : null }, `${server} ${component} version ${version} out of sync (cluster: ${reference ?? 'no majority'})`),

  versionInSync: (time: number, cluster: string, server: string, component: string, version: string): ClusterEvent =>
    event(time, 'version_in_sync', 'info', { cluster, server, component }, { to: version }, `${server} ${component} version ${version} back in sync`),

  keyDrift: (time: number, cluster: string, server: string, component: string, noMajority: boolean): ClusterEvent =>
    event(time, 'key_drift', 'warning', { cluster, server, component }, { reason: noMajority ? 'no majority' : null }, `${server} ${component} encryption key out of sync with the cluster${noMajority ? ' (no majority)' : ''}`),

  keyInSync: (time: number, cluster: string, server: string, component: string): ClusterEvent =>
    event(time, 'key_in_sync', 'info', { cluster, server, component }, {}, `${server} ${component} encryption key back in sync`),

  /** `lastKnownSeconds`: `from` is a last-known value of that age (the component had stopped answering), not the value of a moment ago. */
  factChanged: (time: number, cluster: string, server: string, component: string, fact: string, from: string, to: string, lastKnownSeconds: number | null = null): ClusterEvent =>
    event(
      time,
      'fact_changed',
      'info',
      { cluster, server, component },
      { subject: fact, from, to },
      `${server} ${component} ${fact}: ${from}${lastKnownSeconds === null ? '' : ` (last known ${formatDuration(lastKnownSeconds)} ago)`} → ${to}`,
    ),

  expectation: (time: number, cluster: string, name: string, met: boolean, summary: string): ClusterEvent =>
    event(time, met ? 'expectation_met' : 'expectation_not_met', met ? 'info' : 'warning', { cluster }, { subject: name, to: met ? 'met' : 'not met', reason: summary }, `${name} ${met ? 'met' : 'not met'}: ${summary}`),

  started: (time: number, clusters: number, components: number): ClusterEvent =>
    event(time, 'started', 'info', {}, {}, `exporter started: ${clusters} ${clusters === 1 ? 'cluster' : 'clusters'}, ${components} components; earlier events are in the logs and in Prometheus`),

  reloaded: (time: number, changed: boolean, clusters: number): ClusterEvent =>
    event(time, 'reloaded', 'info', {}, {}, changed ? `configuration reloaded: ${clusters} ${clusters === 1 ? 'cluster' : 'clusters'}` : 'configuration reloaded: unchanged'),

  reloadFailed: (time: number, error: string): ClusterEvent => {
    const reason = error.length > MAX_ERROR ? `${error.slice(0, MAX_ERROR)}…` : error;
    return event(time, 'reload_failed', 'warning', {}, { reason }, `reload failed, the running configuration is kept: ${reason}`);
  },
};
