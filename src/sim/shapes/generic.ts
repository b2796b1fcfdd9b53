import { createHash } from 'node:crypto';
import type { AnswerContext, HttpShape, Reply, SimClusterView } from '../shape.js';
import { json } from '../shape.js';

/**
 * The generic health document of the plain simulator (`npm start`, most tests): any path
 * answers `status`, `version`, `key_fingerprint`, `heartbeat` (RFC 3339), `os`, a
 * `sessions` count and `role` ("primary" on the first server, else "replica").
 */
export function genericShape(cluster: SimClusterView): HttpShape {
  return {
    protocol: 'http',
    faults: {
      unhealthy: 'status "degraded"',
      version_drift: 'version `value` (default 0.0.1-drift)',
      key_drift: 'another encryption key',
      frozen_heartbeat: 'the heartbeat of the moment the fault was set',
    },
    answer(ctx: AnswerContext): Reply {
      const f = ctx.faults;
      const key = f.has('key_drift') ? `${cluster.key}-drifted` : cluster.key;
      const body: Record<string, unknown> = {
        status: f.has('unhealthy') ? 'degraded' : 'ok',
        server: ctx.server.name,
        component: ctx.component,
        version: f.has('version_drift') ? (f.get('version_drift')!.value ?? '0.0.1-drift') : cluster.version,
        key_fingerprint: createHash('sha256').update(key).digest('hex').slice(0, 16),
        heartbeat: new Date(f.get('frozen_heartbeat')?.since ?? Date.now()).toISOString(),
        os: cluster.os,
        sessions: ctx.requests % 50,
        role: ctx.server.index === 0 ? 'primary' : 'replica',
      };
      if (cluster.exposeRawKey) body['encryption_key'] = key;
      return json(200, body);
    },
  };
}
