import type { AnswerContext, HttpShape, Reply, SimClusterView } from '../shape.js';
import { json, methodNotAllowed, NOT_FOUND } from '../shape.js';

/** Settings of a SecureTransport-shaped server's admin API. */
export interface SecureTransportShapeOptions {
  /** Basic auth user name (default "monitor"). */
  readonly username?: string;
  /** Basic auth password (default "sim-password"). */
  readonly password?: string;
  /** `os` of `/version` (default: the cluster's OS). */
  readonly os?: string;
}

const API = '/api/v2.0';

/** The protocol daemons of `GET /daemons`, as the API names them (`daemon=ssh`); each answers `${name}Status`. */
const ST_DAEMONS = ['ftp', 'http', 'pesit', 'ssh', 'as2'] as const;

/** The daemons `daemon_stopped` stops: its value, a comma-separated list of ST_DAEMONS (default ssh). */
function stoppedDaemons(value: string | undefined): Set<string> {
  return new Set((value ?? 'ssh').split(',').map((d) => d.trim().toLowerCase()));
}

/**
 * A SecureTransport server's admin REST API v2.0 (Axway's public ST_API_Examples; see
 * docs/presets/securetransport.md): `GET /api/v2.0/version` gives `version` (the cluster's), `serverType` and
 * `os`; `GET /api/v2.0/transactionManager` gives `status`, "Running" while the Transaction
 * Manager runs and "Not running" when it is stopped (the form `/daemons` uses for a stopped
 * daemon; the stopped TM's exact text is not published). Every call needs basic auth and
 * a `Referer` header: without valid credentials 401 with a Basic challenge; with them but
 * no `Referer`, 400 (the API refuses such calls; which code it uses is the simulator's
 * judgement). `GET /api/v2.0/daemons` gives one object with each protocol daemon's status,
 * `sshStatus`, `ftpStatus`, `httpStatus`, `as2Status` and `pesitStatus` (ST_API_Examples,
 * `Admin/API 2.0/bash/03.Connect/01.daemons_GET.sh` and `13.servers_operations_POST.sh`):
 * "Running", or "Not running" for the daemons the fault `daemon_stopped` names. The real API listens on HTTPS port 8444 (444 for root installs); the
 * simulator answers plain HTTP, which is enough on loopback.
 */
export function secureTransportShape(cluster: SimClusterView, options: SecureTransportShapeOptions = {}): HttpShape {
  const expected = `Basic ${Buffer.from(`${options.username ?? 'monitor'}:${options.password ?? 'sim-password'}`).toString('base64')}`;
  return {
    protocol: 'http',
    faults: {
      unhealthy: 'transactionManager status "Not running" (as tm_stopped)',
      version_drift: 'version `value` (default 0.0.1)',
      tm_stopped: 'transactionManager status "Not running"',
      daemon_stopped: `daemons: the status of daemon \`value\` (${ST_DAEMONS.join(', ')}; several with commas; default ssh) "Not running"`,
    },
    answer(ctx: AnswerContext): Reply {
      const path = ctx.url.pathname;
      if (path !== `${API}/version` && path !== `${API}/transactionManager` && path !== `${API}/daemons`) return NOT_FOUND;
      if (ctx.headers.authorization !== expected) {
        return json(401, { message: 'authentication required' }, { 'www-authenticate': 'Basic realm="admin"' });
      }
      if (!ctx.headers.referer) return json(400, { message: 'a Referer header is required' });
      if (ctx.method !== 'GET') return methodNotAllowed('GET');
      const f = ctx.faults;
      if (path === `${API}/version`) {
        const version = f.has('version_drift') ? (f.get('version_drift')!.value ?? '0.0.1') : cluster.version;
        return json(200, { version, serverType: 'Server', os: options.os ?? cluster.os });
      }
      if (path === `${API}/daemons`) {
        const stopped = f.has('daemon_stopped') ? stoppedDaemons(f.get('daemon_stopped')!.value) : new Set<string>();
        return json(200, Object.fromEntries(ST_DAEMONS.map((d) => [`${d}Status`, stopped.has(d) ? 'Not running' : 'Running'])));
      }
      return json(200, { status: f.has('tm_stopped') || f.has('unhealthy') ? 'Not running' : 'Running' });
    },
  };
}
