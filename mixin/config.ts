/**
 * The mixin's one configuration, in the manner of kubernetes-mixin's `config.libsonnet`:
 * everything an operator may want to differ in the generated rules, Alertmanager files,
 * e-mail links and dashboards. `mixin/config.yml` is the configuration the committed files
 * are generated from; an operator's own file holds only what differs (every field has the
 * default given here).
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ALERT_NAMES, type AlertName } from './alerts.js';

const duration = z.string().regex(/^(\d+(ms|s|m|h|d|w|y))+$/, 'a Prometheus duration such as 30s, 1m or 1h30m');
const severity = z.enum(['critical', 'warning', 'info', 'none']);

const alertSettings = z.strictObject({
  /** How long the condition must hold before the alert fires; omitted: fires at once. */
  for: duration.optional(),
  severity,
});
export type AlertSettings = z.infer<typeof alertSettings>;

/** The defaults: the `for:` and severity of each alert as alerts/runbook.md explains them. */
export const DEFAULT_ALERTS: Record<AlertName, AlertSettings> = {
  AppClusterServerOffline: { for: '1m', severity: 'critical' },
  AppClusterClusterDown: { for: '1m', severity: 'critical' },
  AppClusterClusterDegraded: { for: '1m', severity: 'warning' },
  AppClusterComponentDown: { for: '1m', severity: 'warning' },
  // Its expression holds off for two of the cluster's own heartbeat intervals.
  AppClusterHeartbeatStale: { severity: 'warning' },
  // Lets a rolling upgrade finish before anyone is told about it.
  AppClusterVersionOutOfSync: { for: '15m', severity: 'warning' },
  AppClusterKeyOutOfSync: { for: '1m', severity: 'critical' },
  AppClusterTooFewServersOnline: { for: '1m', severity: 'critical' },
  AppClusterServerCountUnexpected: { for: '1m', severity: 'critical' },
  AppClusterCannotAuthenticate: { for: '5m', severity: 'warning' },
  AppClusterClockSkew: { for: '5m', severity: 'warning' },
  AppClusterCertificateExpiringWarning: { for: '1m', severity: 'warning' },
  AppClusterCertificateExpiringCritical: { for: '1m', severity: 'critical' },
  // Heavy writes add up to an interval's worth of WAL to a sampled lag: it must last.
  AppClusterPatroniReplicationLag: { for: '5m', severity: 'warning' },
  AppClusterPatroniReplayPaused: { for: '5m', severity: 'warning' },
  // Planned maintenance takes a while; maintenance mode left on after it is the fault.
  AppClusterPatroniMaintenanceMode: { for: '1h', severity: 'warning' },
  AppClusterExporterDown: { for: '2m', severity: 'critical' },
  AppClusterExporterReplicaDown: { for: '5m', severity: 'warning' },
  AppClusterExporterAbsent: { for: '5m', severity: 'critical' },
  AppClusterExporterConfigReloadFailed: { for: '5m', severity: 'warning' },
  AppClusterExporterOverloaded: { for: '5m', severity: 'warning' },
  AppClusterWatchdog: { severity: 'none' },
};

const alertsSchema = z
  .record(z.string(), alertSettings.partial())
  .superRefine((alerts, ctx) => {
    for (const name of Object.keys(alerts)) {
      if (!(ALERT_NAMES as readonly string[]).includes(name)) {
        ctx.addIssue({ code: 'custom', path: [name], message: `unknown alert ${name}; the alerts are ${ALERT_NAMES.join(', ')}` });
      }
    }
  })
  .default({});

/** The schema of a mixin configuration file (YAML); unknown keys are errors. */
export const mixinConfigSchema = z.strictObject({
  /** Label matchers that select the exporter's series, as Prometheus scrapes them: `job="appcluster"`. */
  selector: z.string().min(1).default('job="appcluster"'),
  /** Each alert's runbook URL: `%s` becomes the alert name in lower case (the runbook's anchor). */
  runbook_url_pattern: z
    .string()
    .includes('%s', { message: 'must hold %s, the place of the alert name' })
    .default('https://github.com/appcluster-exporter/appcluster-exporter/blob/main/alerts/runbook.md#%s'),
  /** Grafana as the readers of the e-mails reach it; the e-mails link to its dashboards. */
  grafana_url: z.url().default('http://localhost:3000'),
  /** The exporter's status page as the readers of the e-mails reach it. */
  status_page_url: z.url().default('http://localhost:10471'),
  /**
   * How long a firing alert on the exporter's series rides through missed scrapes: four
   * scrape intervals (alerts/README.md, "Missed scrapes").
   */
  keep_firing_for: duration.default('1m'),
  /**
   * AppClusterPatroniReplicationLag's threshold: a replica's replay behind its primary by
   * more than this many bytes of WAL. 64 MiB: four 16 MiB WAL segments, over what one heartbeat
   * interval of ordinary writes adds to a sampled figure.
   */
  patroni_max_replication_lag_bytes: z.int().positive().default(64 * 1024 * 1024),
  /** Per alert: `for:` and `severity`, over the defaults. */
  alerts: alertsSchema,
  /** The Alertmanager receiver the snippet adds, and where it sends e-mail. */
  alertmanager: z
    .strictObject({
      receiver: z.string().min(1).default('appcluster-email'),
      email_to: z.string().min(1).default('appcluster-operators@example.com'),
      email_from: z.string().min(1).default('alertmanager@example.com'),
      smarthost: z.string().min(1).default('localhost:25'),
      /** null for a relay that takes no login. */
      auth_username: z.string().min(1).nullable().default('alertmanager@example.com'),
      /** A file holding the SMTP password, so that it stays out of the configuration; null with no login. */
      auth_password_file: z.string().min(1).nullable().default('/etc/alertmanager/smtp_password'),
      require_tls: z.boolean().default(true),
      /** Alerts on the monitoring itself (label owner="monitoring": its credentials refused) go to this receiver, at this address. */
      monitoring_receiver: z.string().min(1).default('appcluster-monitoring'),
      monitoring_email_to: z.string().min(1).default('monitoring-owners@example.com'),
    })
    .prefault({}),
  /** Dashboards: the uid and title prefix, so that two sets can live in one Grafana. */
  dashboards: z
    .strictObject({
      uid_prefix: z.string().regex(/^[\w-]+$/).default('appcluster'),
      title_prefix: z.string().min(1).default('App cluster'),
    })
    .prefault({}),
});

/** A mixin configuration with every default filled in. */
export interface MixinConfig extends Omit<z.infer<typeof mixinConfigSchema>, 'alerts'> {
  readonly alerts: Readonly<Record<AlertName, AlertSettings>>;
}

/**
 * Parses a configuration file's text (YAML) into a complete configuration.
 * @throws Error naming the file, line and field of the first problems found.
 */
export function parseMixinConfig(text: string, file = 'mixin configuration'): MixinConfig {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('\n')}`);
  const result = mixinConfigSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const node = doc.getIn(issue.path as (string | number)[], true) as { range?: [number, number] } | undefined;
      const offset = node?.range?.[0];
      const line = offset === undefined ? '' : `:${text.slice(0, offset).split('\n').length}`;
      return `${file}${line}: ${issue.path.join('.') || '(top)'}: ${issue.message}`;
    });
    throw new Error(lines.join('\n'));
  }
  const { alerts, ...rest } = result.data;
  const merged = Object.fromEntries(
    ALERT_NAMES.map((name) => [name, { ...DEFAULT_ALERTS[name], ...alerts[name] } as AlertSettings]),
  ) as Record<AlertName, AlertSettings>;
  return { ...rest, alerts: merged };
}

/** Reads and parses a configuration file; see `parseMixinConfig`. */
export function loadMixinConfig(path: string): MixinConfig {
  return parseMixinConfig(readFileSync(path, 'utf8'), path);
}

/** The configuration of the committed files: every default. */
export const defaultMixinConfig: MixinConfig = parseMixinConfig('');
