/**
 * The Alertmanager side: the snippet to merge under an operator's existing route tree (a
 * route, its receivers, the inhibition rules), the complete configuration the bundle's own
 * stacks run, and the merge of the snippet into an existing configuration.
 */
import type { MixinConfig } from './config.js';

type Yaml = Record<string, unknown>;

/** What the snippet adds to an Alertmanager configuration. */
export interface AlertmanagerSnippet {
  /** One route, to put first under the existing tree's `route.routes`. */
  readonly route: Yaml;
  readonly receivers: Yaml[];
  readonly inhibit_rules: Yaml[];
}

const WATCHDOG_RECEIVER = 'appcluster-watchdog';

/** The e-mail receiver's `email_configs` entry, with the bundle's templates. */
function emailConfig(config: MixinConfig, to: string): Yaml {
  const am = config.alertmanager;
  return {
    to,
    from: am.email_from,
    smarthost: am.smarthost,
    ...(am.auth_username === null ? {} : { auth_username: am.auth_username }),
    // The password stays out of this file (Alertmanager 0.25 and later).
    ...(am.auth_password_file === null ? {} : { auth_password_file: am.auth_password_file }),
    require_tls: am.require_tls,
    send_resolved: true,
    headers: { Subject: '{{ template "appcluster.email.subject" . }}' },
    text: '{{ template "appcluster.email.text" . }}',
    html: '{{ template "appcluster.email.html" . }}',
  };
}

/**
 * The route, receivers and inhibition rules of the appcluster alerts. The route matches every
 * `AppCluster*` alert and does not continue, so an existing catch-all after it does not mail
 * them twice.
 */
export function alertmanagerSnippet(config: MixinConfig): AlertmanagerSnippet {
  const receiver = config.alertmanager.receiver;
  return {
    route: {
      receiver,
      matchers: ['alertname =~ "AppCluster.*"'],
      // One notification per cluster and alert name: a rolling upgrade that leaves five
      // components out of sync gives one e-mail; different problems of a cluster get their
      // own subjects ("server node-2 Offline"). Exporter alerts group by alertname alone.
      group_by: ['app_cluster', 'alertname'],
      group_wait: '30s',
      group_interval: '2m',
      repeat_interval: '4h',
      routes: [
        {
          // Dead man's switch: always firing, never mailed to operators; give the receiver
          // a webhook to an outside service that pages when it stops arriving.
          receiver: WATCHDOG_RECEIVER,
          matchers: ['alertname = "AppClusterWatchdog"'],
          group_by: ['alertname'],
          group_wait: '0s',
          group_interval: '1m',
          repeat_interval: '5m',
        },
        {
          // The monitoring's own faults (the exporter's credentials refused) go to whoever
          // runs the monitoring, not to the clusters' operators.
          receiver: config.alertmanager.monitoring_receiver,
          matchers: ['owner = "monitoring"'],
        },
      ],
    },
    receivers: [
      { name: receiver, email_configs: [emailConfig(config, config.alertmanager.email_to)] },
      { name: config.alertmanager.monitoring_receiver, email_configs: [emailConfig(config, config.alertmanager.monitoring_email_to)] },
      { name: WATCHDOG_RECEIVER },
    ],
    inhibit_rules: [
      // A cluster that is down explains its offline servers.
      { source_matchers: ['alertname = "AppClusterClusterDown"'], target_matchers: ['alertname = "AppClusterServerOffline"'], equal: ['app_cluster'] },
      // An offline server explains the cluster being degraded: one outage, one e-mail (the
      // server's, which names it and says why).
      { source_matchers: ['alertname = "AppClusterServerOffline"'], target_matchers: ['alertname = "AppClusterClusterDegraded"'], equal: ['app_cluster'] },
      // An offline server explains its components being down or stale. Muted alerts still
      // mute others, so under a cluster-down the component alerts stay quiet too. Version
      // and key sync are not consequences of being offline and stay unmuted.
      {
        source_matchers: ['alertname = "AppClusterServerOffline"'],
        target_matchers: ['alertname =~ "AppClusterComponentDown|AppClusterHeartbeatStale"'],
        equal: ['app_cluster', 'server'],
      },
      // A certificate at its critical stage explains its own warning.
      {
        source_matchers: ['alertname = "AppClusterCertificateExpiring"', 'severity = "critical"'],
        target_matchers: ['alertname = "AppClusterCertificateExpiring"', 'severity = "warning"'],
        equal: ['app_cluster', 'server', 'component'],
      },
      // A component that is down explains its heartbeat going stale.
      {
        source_matchers: ['alertname = "AppClusterComponentDown"'],
        target_matchers: ['alertname = "AppClusterHeartbeatStale"'],
        equal: ['app_cluster', 'server', 'component'],
      },
    ],
  };
}

/**
 * A complete Alertmanager configuration that sends the appcluster alerts and nothing else:
 * the snippet's route as the root. `templates/*.tmpl` is resolved from the file's folder.
 */
export function alertmanagerConfig(config: MixinConfig): Yaml {
  const snippet = alertmanagerSnippet(config);
  const { matchers: _all, ...root } = snippet.route;
  return { templates: ['templates/*.tmpl'], route: root, inhibit_rules: snippet.inhibit_rules, receivers: snippet.receivers };
}

/**
 * An existing Alertmanager configuration with the snippet merged in: the route first under
 * `route.routes`, the receivers, inhibition rules and template glob appended.
 * @throws Error when the configuration has no root route, or already has a receiver of the
 * snippet's names (merging twice).
 */
export function mergeSnippet(existing: Yaml, snippet: AlertmanagerSnippet, templateGlob: string): Yaml {
  const route = existing['route'] as Yaml | undefined;
  if (!route || typeof route !== 'object') throw new Error('the Alertmanager configuration has no root route');
  const receivers = (existing['receivers'] as Yaml[] | undefined) ?? [];
  const names = new Set(receivers.map((r) => r['name']));
  for (const r of snippet.receivers) {
    if (names.has(r['name'])) throw new Error(`the Alertmanager configuration already has a receiver named ${String(r['name'])}`);
  }
  const templates = (existing['templates'] as string[] | undefined) ?? [];
  return {
    ...existing,
    templates: templates.includes(templateGlob) ? templates : [...templates, templateGlob],
    route: { ...route, routes: [snippet.route, ...((route['routes'] as Yaml[] | undefined) ?? [])] },
    inhibit_rules: [...((existing['inhibit_rules'] as Yaml[] | undefined) ?? []), ...snippet.inhibit_rules],
    receivers: [...receivers, ...snippet.receivers],
  };
}
