import type { AnswerContext, HttpShape, Reply, SimClusterView, SimServerView } from '../shape.js';
import { json, methodNotAllowed, NOT_FOUND } from '../shape.js';

/** Settings of a Patroni-shaped cluster. */
export interface PatroniShapeOptions {
  /** `patroni.scope`, the cluster's name in the DCS (default "pg-sim"). */
  readonly scope?: string;
  /** PostgreSQL's `server_version` number (default 160009, PostgreSQL 16.9). */
  readonly serverVersion?: number;
}

/** Patroni names the primary "master" before 4.0 and "primary" from 4.0 on. */
function primaryName(patroniVersion: string): string {
  return Number(patroniVersion.split('.')[0]) >= 4 ? 'primary' : 'master';
}

/**
 * A Patroni node's REST API (port 8008; see docs/presets/patroni.md): `GET /patroni` answers `state`
 * ("running"), `role` ("primary", or "master" when its `patroni.version` is below 4.0;
 * "replica"), `server_version` (a number), `patroni.version` (the cluster's version) and
 * `patroni.scope`, `dcs_last_seen` (epoch seconds), `timeline` and `xlog`. `GET /health`
 * answers the same document with 200 while PostgreSQL runs and 503 otherwise (inference:
 * Patroni documents the codes, not the body).
 *
 * The primary is the server holding `switchover`, else the first. While it is cut off
 * (a component `down` or `hang`) the first other server takes over, as Patroni's automatic
 * failover does, and gives it back when it returns. Every change of primary starts a new
 * timeline. `replica` makes a server answer "replica" whatever it is (a demoted primary:
 * then no server is primary).
 */
export function patroniShape(cluster: SimClusterView, options: PatroniShapeOptions = {}): HttpShape {
  const scope = options.scope ?? 'pg-sim';
  const serverVersion = options.serverVersion ?? 160009;
  const up = (s: SimServerView): boolean => !s.hasFault('down') && !s.hasFault('hang');
  const choose = (): SimServerView | undefined => {
    const designated = cluster.servers.find((s) => s.hasFault('switchover')) ?? cluster.servers[0];
    return designated && up(designated) ? designated : cluster.servers.find(up);
  };
  let primary = choose();
  let timeline = 1;
  return {
    protocol: 'http',
    faults: {
      unhealthy: 'state `value` (default "starting"), /health 503',
      version_drift: 'patroni.version `value` (default 0.0.1)',
      frozen_heartbeat: 'dcs_last_seen stays at the moment the fault was set',
      replica: 'role "replica", even on the primary',
      switchover: 'the primary role moves to this server, on a new timeline',
    },
    faultsChanged(): void {
      // A cluster with every server cut off keeps its last primary: nobody answers anyway.
      const next = choose() ?? primary;
      if (next !== primary) {
        primary = next;
        timeline++;
      }
    },
    answer(ctx: AnswerContext): Reply {
      const path = ctx.url.pathname;
      if (path !== '/patroni' && path !== '/health') return NOT_FOUND;
      if (ctx.method !== 'GET') return methodNotAllowed('GET');
      const f = ctx.faults;
      const version = f.has('version_drift') ? (f.get('version_drift')!.value ?? '0.0.1') : cluster.version;
      const state = f.has('unhealthy') ? (f.get('unhealthy')!.value ?? 'starting') : 'running';
      const isPrimary = ctx.server === primary && !f.has('replica');
      const lsn = 50_331_648 + timeline * 1024;
      const body = {
        state,
        role: isPrimary ? primaryName(version) : 'replica',
        server_version: serverVersion,
        xlog: isPrimary ? { location: lsn } : { received_location: lsn, replayed_location: lsn, paused: false },
        timeline,
        dcs_last_seen: Math.floor((f.get('frozen_heartbeat')?.since ?? Date.now()) / 1000),
        patroni: { version, scope },
      };
      return json(path === '/health' && state !== 'running' ? 503 : 200, body);
    },
  };
}
