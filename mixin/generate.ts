/**
 * The generator: one configuration (mixin/config.ts, the file mixin/config.yml) in, every
 * file an operator loads out, as kubernetes-mixin builds its rules and dashboards from
 * `config.libsonnet`:
 *
 *   alerts/recording-rules.yml, alerts/alert-rules.yml     Prometheus rule files
 *   alertmanager/alertmanager.yml                          a complete Alertmanager configuration
 *   alertmanager/templates/email.tmpl                      the e-mails, linking where the configuration says
 *   alertmanager/snippet/appcluster.yml                    route, receivers and inhibitions to merge
 *                                                          under an existing route tree
 *   alertmanager/snippet/example-merged.yml                the snippet merged into example-existing.yml
 *   dashboards/*.json                                      Grafana dashboards
 *
 * To add an alert, add it to mixin/alerts.ts (its doc comment says what goes with it); to
 * change how an alert waits or pages, change the configuration, never a generated file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { alertmanagerConfig, alertmanagerSnippet, mergeSnippet } from './alertmanager.js';
import type { MixinConfig } from './config.js';
import { dashboards } from './dashboards.js';
import { RECORDING_NOTE } from './records.js';
import { alertGroups, recordingGroups, rulesYaml } from './rules.js';

/** The folder of the mixin's sources (this file's folder in the repository, not in dist/). */
export function mixinDir(root: string): string {
  return join(root, 'mixin');
}

const RULES_NOTES = {
  recording: RECORDING_NOTE,
  alerts: `
 Alerting rules for appcluster-exporter. Load them with alerts/recording-rules.yml: every
 cluster alert reads the replica-collapsed series recorded there, so two exporter replicas
 never double an alert and a replica that is down or cut off never raises a false one.

 Waiting times: one lost probe must never page, so each condition has to hold for at
 least two heartbeat intervals. AppClusterHeartbeatStale reads the interval from
 appcluster_cluster_heartbeat_interval_seconds and needs no \`for:\`. The others use a
 fixed \`for:\` (alerts/runbook.md, "Waiting times"). Every alert that reads series the
 exporter reports has \`keep_firing_for\`, so that missed scrapes neither resolve it nor
 restart its \`for:\` (alerts/README.md, "Missed scrapes"); the guards on \`up\` need none.`,
};

function generatedBy(config: string): string {
  return ` Generated from ${config} by the mixin generator (mixin/generate.ts); do not edit: change the configuration and generate again.`;
}

/** What to generate from: the configuration and where it came from (for the files' headers). */
export interface GenerateOptions {
  readonly config: MixinConfig;
  /** The configuration file as the headers name it, e.g. `mixin/config.yml`. */
  readonly configName: string;
  /** The repository root (the sources under mixin/ are read from there). */
  readonly root: string;
  /** Also the files of the bundle's own compose stack (the repository's own set only). */
  readonly compose?: boolean;
}

/** Every generated file, by path relative to the output folder, with its text. */
export function generate(o: GenerateOptions): Map<string, string> {
  const { config } = o;
  const header = generatedBy(o.configName);
  const files = new Map<string, string>();
  files.set('alerts/recording-rules.yml', rulesYaml(`${header}\n${RULES_NOTES.recording}`, recordingGroups(config)));
  files.set('alerts/alert-rules.yml', rulesYaml(`${header}\n${RULES_NOTES.alerts}`, alertGroups(config)));

  const yaml = (comment: string, value: unknown) =>
    `${comment
      .trim()
      .split('\n')
      .map((l) => `#${l ? ` ${l}` : ''}`)
      .join('\n')}\n${stringify(value, { lineWidth: 0 })}`;
  const full = alertmanagerConfig(config);
  files.set(
    'alertmanager/alertmanager.yml',
    yaml(
      `${header}
Alertmanager configuration that sends the appcluster alerts (alerts/alert-rules.yml) and
nothing else. Check it with:  amtool check-config alertmanager/alertmanager.yml
To add the alerts to an Alertmanager that routes others too, merge snippet/appcluster.yml
instead (alerts/README.md, "Wiring into an existing Alertmanager").`,
      full,
    ),
  );
  const snippet = alertmanagerSnippet(config);
  files.set(
    'alertmanager/snippet/appcluster.yml',
    yaml(
      `${header}
What the appcluster alerts add to an existing Alertmanager configuration: put \`route\`
first under your root route's \`routes\`, append \`receivers\` and \`inhibit_rules\`, and add
the e-mail templates (templates/*.tmpl) to \`templates\`. npm run generate:mixin --
--merge-into <your alertmanager.yml> prints the merged configuration.`,
      snippet,
    ),
  );
  const existing = parse(readFileSync(join(mixinDir(o.root), 'example-existing-alertmanager.yml'), 'utf8')) as Record<string, unknown>;
  files.set(
    'alertmanager/snippet/example-merged.yml',
    yaml(
      `${header}
mixin/example-existing-alertmanager.yml, an operator's routing tree, with appcluster.yml
merged in as --merge-into does; amtool check-config checks it in the tests.`,
      mergeSnippet(existing, snippet, 'templates/*.tmpl'),
    ),
  );
  if (o.compose) {
    const mailpit = alertmanagerConfig({ ...config, alertmanager: { ...config.alertmanager, smarthost: 'mailpit:1025', require_tls: false, auth_username: null, auth_password_file: null } });
    files.set(
      'compose/alertmanager/alertmanager.yml',
      yaml(
        `${header}
Alertmanager for the compose stack: alertmanager/alertmanager.yml with mail sent to the
Mailpit sink (no STARTTLS, no AUTH) instead of a real relay. The e-mail templates are not
copied: ../alertmanager/templates is mounted at /etc/alertmanager/templates.`,
        mailpit,
      ),
    );
  }

  const template = readFileSync(join(mixinDir(o.root), 'email.tmpl'), 'utf8')
    .replaceAll('@GRAFANA_URL@', config.grafana_url.replace(/\/$/, ''))
    .replaceAll('@STATUS_PAGE_URL@', config.status_page_url.replace(/\/$/, ''))
    .replaceAll('@UID@', config.dashboards.uid_prefix);
  files.set('alertmanager/templates/email.tmpl', `{{/*${header} */}}\n${template}`);

  for (const [file, text] of dashboards(config)) files.set(`dashboards/${file}`, text);
  return files;
}
