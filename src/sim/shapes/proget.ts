import type { AnswerContext, HttpShape, Reply, SimClusterView } from '../shape.js';
import { json, methodNotAllowed, NOT_FOUND } from '../shape.js';

/** Settings of a ProGet-shaped server (also BuildMaster and Otter, which answer the same document). */
export interface ProGetShapeOptions {
  /** `applicationName`: "ProGet" (default), "BuildMaster" (which adds `instanceName`) or "Otter". */
  readonly applicationName?: string;
  /**
   * Answer the JSON document at `/health` as ProGet did up to 2025 (and no `/health/json`).
   * Default: as ProGet 2026, plain text at `/health` and the JSON at `/health/json` (and
   * `/health?format=json`).
   */
  readonly legacyHealth?: boolean;
}

/** The problem texts of the product faults when no `value` is given: the simulator's own words. */
const DEFAULT_DETAIL = {
  database: 'cannot open a connection to the database server',
  license: 'the license key has expired',
  service: 'the service has not sent a heartbeat',
};

/**
 * `versionNumber` from `releaseNumber` in the form the health document shows them side by
 * side ("23.0.27" and "2023.27 (Build 5)"); the build number is the simulator's.
 */
export function progetVersionNumber(release: string): string {
  const m = /^(\d{1,2})\.\d+\.(\d+)$/.exec(release);
  return m ? `20${m[1]!.padStart(2, '0')}.${m[2]} (Build 1)` : release;
}

/**
 * A ProGet node's health document (Inedo docs `proget/api/health.md`; pgutil
 * `ProGetHealthInfo.cs`; see docs/presets/proget.md): `applicationName`, `databaseStatus`,
 * `serviceStatus`, `licenseStatus` ("OK" or "Error") with `databaseStatusDetails`,
 * `serviceStatusDetail`, `licenseStatusDetail`, `versionNumber`, `releaseNumber` (the
 * cluster's version), `extensionsInstalled`, `replicationStatus` (null: no replication).
 * HTTP 200 when every status is OK, 500 otherwise; no API key. The plain text of 2026's
 * `/health` is not published: this one is the simulator's own wording.
 */
export function progetShape(cluster: SimClusterView, options: ProGetShapeOptions = {}): HttpShape {
  const applicationName = options.applicationName ?? 'ProGet';
  const document = (ctx: AnswerContext): { ok: boolean; body: Record<string, unknown> } => {
    const f = ctx.faults;
    const status = (fault: 'database_error' | 'license_error' | 'service_error', fallback: string): [string, string | null] =>
      f.has(fault) ? ['Error', f.get(fault)!.value ?? fallback] : ['OK', null];
    const [databaseStatus, databaseStatusDetails] = status('database_error', DEFAULT_DETAIL.database);
    const [licenseStatus, licenseStatusDetail] = status('license_error', DEFAULT_DETAIL.license);
    const [serviceStatus, serviceStatusDetail] = f.has('unhealthy')
      ? ['Error', DEFAULT_DETAIL.service]
      : status('service_error', DEFAULT_DETAIL.service);
    const release = f.has('version_drift') ? (f.get('version_drift')!.value ?? '0.0.1') : cluster.version;
    return {
      ok: databaseStatus === 'OK' && licenseStatus === 'OK' && serviceStatus === 'OK',
      body: {
        applicationName,
        ...(applicationName === 'BuildMaster' ? { instanceName: ctx.server.name } : {}),
        databaseStatus,
        databaseStatusDetails,
        serviceStatus,
        serviceStatusDetail,
        licenseStatus,
        licenseStatusDetail,
        versionNumber: progetVersionNumber(release),
        releaseNumber: release,
        extensionsInstalled: {},
        replicationStatus: null,
      },
    };
  };
  return {
    protocol: 'http',
    faults: {
      unhealthy: 'serviceStatus Error, HTTP 500',
      version_drift: 'releaseNumber `value` (default 0.0.1), versionNumber to match',
      database_error: 'databaseStatus Error, databaseStatusDetails `value`, HTTP 500',
      license_error: 'licenseStatus Error, licenseStatusDetail `value`, HTTP 500',
      service_error: 'serviceStatus Error, serviceStatusDetail `value`, HTTP 500',
    },
    answer(ctx: AnswerContext): Reply {
      const path = ctx.url.pathname;
      // Before 2026 the JSON had no path of its own.
      if (path !== '/health' && (path !== '/health/json' || options.legacyHealth)) return NOT_FOUND;
      if (ctx.method !== 'GET') return methodNotAllowed('GET');
      const { ok, body } = document(ctx);
      const wantsJson = path === '/health/json' || ctx.url.searchParams.get('format') === 'json' || options.legacyHealth === true;
      if (wantsJson) return json(ok ? 200 : 500, body);
      const problems = (['database', 'service', 'license'] as const)
        .filter((c) => body[`${c}Status`] !== 'OK')
        .map((c) => `${c}: ${String(body[c === 'database' ? 'databaseStatusDetails' : `${c}StatusDetail`])}`);
      const text = `${applicationName} ${String(body['versionNumber'])}: ${ok ? 'healthy' : 'unhealthy'}\n${problems.map((p) => `${p}\n`).join('')}`;
      return { status: ok ? 200 : 500, contentType: 'text/plain; charset=utf-8', body: text };
    },
  };
}
