/**
 * The alerting bundle checked with the tools that load it: promtool (the rules in alerts/,
 * their unit tests in alerts/tests/) and amtool (alertmanager/: config, routing and the
 * e-mail templates, rendered from the notifications in alertmanager/tests/), plus the mixin
 * conventions and the metric catalogue. The commands alerts/README.md gives are run as a
 * user types them, from the repository root.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exposedSeriesNames } from '../../src/metrics/catalogue.js';
import type { Rule } from '../../mixin/rules.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const alertsDir = join(root, 'alerts');
const testsDir = join(alertsDir, 'tests');
const alertmanagerDir = join(root, 'alertmanager');
const amConfig = join(alertmanagerDir, 'alertmanager.yml');
const emailTemplate = join(alertmanagerDir, 'templates', 'email.tmpl');
const runbook = join(alertsDir, 'runbook.md');

const RUNBOOK_BASE = 'https://github.com/appcluster-exporter/appcluster-exporter/blob/main/alerts/runbook.md';
const TOOL_PACKAGES: Record<string, string> = {
  promtool: 'prometheus',
  amtool: 'prometheus-alertmanager',
};

interface ToolResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs promtool or amtool; a missing binary fails the test with the package to install. */
function tool(name: 'promtool' | 'amtool', args: readonly string[]): ToolResult {
  const r = spawnSync(name, args, { cwd: root, encoding: 'utf8', timeout: 30_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new Error(`${name} is not installed or not on PATH: install the Debian package "${TOOL_PACKAGES[name]}"`);
    }
    throw r.error;
  }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command line through the shell from the repository root, globs expanded as a user's shell does. */
function typed(command: string): ToolResult {
  const r = spawnSync('sh', ['-c', command], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function output(r: ToolResult): string {
  return `${r.stdout}\n${r.stderr}`;
}

function readYaml(path: string): any {
  return parse(readFileSync(path, 'utf8'));
}

const ruleFiles = readdirSync(alertsDir)
  .filter((f) => /rules\.ya?ml$/.test(f))
  .sort()
  .map((f) => join(alertsDir, f));
const testFiles = readdirSync(testsDir)
  .filter((f) => /_test\.ya?ml$/.test(f))
  .sort()
  .map((f) => join(testsDir, f));

function rulesOf(path: string): Rule[] {
  return (readYaml(path).groups as { rules: Rule[] }[]).flatMap((g) => g.rules);
}
const allRules = ruleFiles.flatMap(rulesOf);
const alerts = allRules.filter((r): r is Rule & { alert: string } => typeof r.alert === 'string');
const records = new Set(allRules.flatMap((r) => (r.record ? [r.record] : [])));

/** Prometheus duration ("1m30s", "15m", "2h") in seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  const consumed = duration.replace(/(\d+)(ms|s|m|h|d|w|y)/g, (_, n: string, u: string) => {
    total += Number(n) * (units[u] ?? NaN);
    return '';
  });
  if (consumed !== '' || !Number.isFinite(total)) throw new Error(`bad duration ${duration}`);
  return total;
}

/** GitHub's anchor for a markdown heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

describe('alert bundle layout', () => {
  it('has rules files, one promtool test file per rules file and one for shards', () => {
    expect(ruleFiles.map((f) => basename(f))).toEqual(['alert-rules.yml', 'recording-rules.yml']);
    for (const file of ruleFiles) {
      const testFile = join(testsDir, basename(file).replace(/\.ya?ml$/, '_test.yml'));
      expect(existsSync(testFile), `${testFile} missing`).toBe(true);
      const loaded: string[] = readYaml(testFile).rule_files;
      expect(loaded.map((f) => resolve(testsDir, f))).toContain(file);
    }
    // Plus shards_test.yml, which loads both files with two shards of two replicas.
    expect(testFiles.map((f) => basename(f))).toContain('shards_test.yml');
    expect(testFiles).toHaveLength(ruleFiles.length + 1);
  });
});

describe('by hand, as alerts/README.md says', () => {
  const commands = [...readFileSync(join(alertsDir, 'README.md'), 'utf8').matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => m[1]!.split('\n'))
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  it('gives the checks of both folders', () => {
    expect(commands).toEqual([
      'promtool check rules alerts/*.yml',
      'promtool test rules alerts/tests/*_test.yml',
      'amtool check-config alertmanager/alertmanager.yml',
    ]);
  });

  // alertmanager.yml once lived in alerts/, where this glob took it for a rules file.
  it('promtool check rules alerts/*.yml: the folder holds rule files only', () => {
    const r = typed('promtool check rules alerts/*.yml');
    expect(r.status, output(r)).toBe(0);
    const checked = [...r.stdout.matchAll(/^Checking (\S+)\n {2}SUCCESS: \d+ rules found$/gm)].map((m) => m[1]);
    expect(checked).toEqual(ruleFiles.map((f) => `alerts/${basename(f)}`));
  });

  it('promtool test rules alerts/tests/*_test.yml', () => {
    const r = typed('promtool test rules alerts/tests/*_test.yml');
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout.match(/^ {2}SUCCESS$/gm)).toHaveLength(testFiles.length);
  });

  it('amtool check-config alertmanager/alertmanager.yml, its templates next to it', () => {
    const r = typed('amtool check-config alertmanager/alertmanager.yml');
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toContain("Checking 'alertmanager/alertmanager.yml'  SUCCESS");
    // amtool counts template globs, not the files they match (none is no error), and
    // Alertmanager resolves them from the config file's folder.
    const globs: string[] = readYaml(amConfig).templates;
    expect(globs).toEqual(['templates/*.tmpl']);
    expect(readdirSync(join(alertmanagerDir, 'templates'))).toEqual([basename(emailTemplate)]);
  });
});

describe('promtool', () => {
  it.each(ruleFiles.map((f) => [basename(f), f]))('check rules %s', (_name, file) => {
    const r = tool('promtool', ['check', 'rules', file]);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it.each(testFiles.map((f) => [basename(f), f]))('test rules %s', (_name, file) => {
    const r = tool('promtool', ['test', 'rules', file]);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
    expect(output(r)).not.toContain('FAILED');
  });

  it('unit tests check every alert before it fires, firing, and resolved', () => {
    const tests = testFiles.flatMap((f) => readYaml(f).tests as { alert_rule_test?: any[] }[]);
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      const firing = mine.filter((c) => (c.exp_alerts ?? []).length > 0);
      expect(firing.length, `${alert}: no firing case`).toBeGreaterThan(0);
      for (const c of firing) {
        for (const a of c.exp_alerts) {
          expect(Object.keys(a.exp_annotations ?? {}).sort(), `${alert}: annotations not pinned`).toEqual(
            Object.keys(alerts.find((r) => r.alert === alert)?.annotations ?? {}).sort(),
          );
        }
      }
      if (alert === 'AppClusterWatchdog') continue; // always fires: no "not yet", no "resolved"
      const quiet = mine.filter((c) => (c.exp_alerts ?? []).length === 0).map((c) => seconds(String(c.eval_time)));
      const firstFiring = Math.min(...firing.map((c) => seconds(String(c.eval_time))));
      const lastFiring = Math.max(...firing.map((c) => seconds(String(c.eval_time))));
      expect(quiet.some((t) => t < firstFiring), `${alert}: no "not yet firing" case`).toBe(true);
      expect(quiet.some((t) => t > lastFiring), `${alert}: no "resolved" case`).toBe(true);
    }
  });

  it('unit tests hold every alert with keep_firing_for through missed scrapes, start time included', () => {
    const tests = testFiles.flatMap((f) => readYaml(f).tests as any[]);
    for (const { alert } of alerts.filter((a) => a.keep_firing_for)) {
      const proving = tests.filter(
        (t) =>
          // A series that misses scrapes ('stale _') and has samples again after them.
          (t.input_series ?? []).some((s: { values: string }) => /\bstale _\S*\s+\S/.test(s.values)) &&
          (t.alert_rule_test ?? []).some((c: any) => c.alertname === alert && (c.exp_alerts ?? []).length > 0) &&
          (t.promql_expr_test ?? []).some((c: any) => String(c.expr).includes(`ALERTS_FOR_STATE{alertname="${alert}"`)),
      );
      expect(proving.length, `${alert}: no case with a gap of scrapes and its ALERTS_FOR_STATE`).toBeGreaterThan(0);
    }
  });
});

describe('alert rules follow the mixin conventions', () => {
  const headings = new Set(
    readFileSync(runbook, 'utf8')
      .split('\n')
      .flatMap((line) => {
        const m = /^#{1,6}\s+(.+)$/.exec(line);
        return m?.[1] ? [anchor(m[1])] : [];
      }),
  );

  it('defines the expected alerts', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'AppClusterCannotAuthenticate',
        'AppClusterClockSkew',
        // Two severities under one name (warning at 14 days, critical at 3).
        'AppClusterCertificateExpiring',
        'AppClusterCertificateExpiring',
        'AppClusterClusterDegraded',
        'AppClusterClusterDown',
        'AppClusterComponentDown',
        'AppClusterExporterAbsent',
        'AppClusterExporterConfigReloadFailed',
        'AppClusterExporterDown',
        'AppClusterExporterOverloaded',
        'AppClusterExporterReplicaDown',
        'AppClusterHeartbeatStale',
        'AppClusterKeyOutOfSync',
        'AppClusterPatroniMaintenanceMode',
        'AppClusterPatroniReplayPaused',
        'AppClusterPatroniReplicationLag',
        'AppClusterServerCountUnexpected',
        'AppClusterServerOffline',
        'AppClusterTooFewServersOnline',
        'AppClusterVersionOutOfSync',
        'AppClusterWatchdog',
      ].sort(),
    );
  });

  it.each(alerts.map((a) => [a.alert, a]))('%s: name, severity, annotations, runbook', (name, rule) => {
    expect(name).toMatch(/^AppCluster[A-Z][A-Za-z]+$/);
    const severity = rule.labels?.severity;
    if (name === 'AppClusterWatchdog') expect(severity).toBe('none');
    else expect(['critical', 'warning', 'info']).toContain(severity);

    const { summary, description, runbook_url: url } = rule.annotations ?? {};
    expect(summary, 'summary').toMatch(/^[A-Z][^.{}]*\.$/); // one static sentence
    expect(description, 'description').toBeTruthy();
    if (name !== 'AppClusterWatchdog') expect(description, 'templated description').toMatch(/\{\{.*\$labels\./s);
    expect(url).toBe(`${RUNBOOK_BASE}#${name.toLowerCase()}`);
    expect(headings.has(url!.split('#')[1]!), `runbook.md has no heading for #${url!.split('#')[1]}`).toBe(true);
  });

  it.each(alerts.filter((a) => a.alert !== 'AppClusterWatchdog').map((a) => [a.alert, a]))(
    '%s waits at least two default heartbeat intervals',
    (_name, rule) => {
      const readsInterval = /appcluster(_|:)cluster_heartbeat_interval_seconds/.test(rule.expr);
      // Without a `for:`, the condition itself holds off for two of the cluster's own intervals.
      if (readsInterval) expect(rule.expr).toMatch(/\b2 \* appcluster:cluster_heartbeat_interval_seconds:max\b/);
      else expect(seconds(rule.for ?? '0s')).toBeGreaterThanOrEqual(2 * 15);
    },
  );

  // A failed scrape marks the exporter's series stale, so without a hold a firing alert
  // resolves and restarts its `for:` (alerts/alert-rules.yml, "Missed scrapes"). `up` is
  // written on every scrape, failed or not, so the guards on it need none.
  const SCRAPE_GUARDS = ['AppClusterExporterDown', 'AppClusterExporterReplicaDown', 'AppClusterExporterAbsent', 'AppClusterWatchdog'];
  it.each(alerts.map((a) => [a.alert, a]))('%s rides through missed scrapes unless it guards the scrape itself', (name, rule) => {
    if (SCRAPE_GUARDS.includes(name)) expect(rule.keep_firing_for).toBeUndefined();
    // Four evaluations at the 15s scrape and evaluation interval the rules assume.
    else expect(rule.keep_firing_for).toBe('1m');
  });

  it('uses only metrics the exporter exposes and series the recording rules define', () => {
    const exposed = exposedSeriesNames();
    const texts = allRules.flatMap((r) => [r.expr, ...Object.values(r.annotations ?? {})]);
    const used = new Set(texts.flatMap((t) => t.match(/\bappcluster[_:][a-zA-Z0-9_:]+/g) ?? []));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) {
      if (name.includes(':')) expect(records, `${name} is not recorded`).toContain(name);
      else expect(exposed, `${name} is not in src/metrics/catalogue.ts`).toContain(name);
    }
  });

  it('keys exporter health on job="appcluster"', () => {
    const exprs = alerts.map((a) => a.expr).join('\n');
    expect(exprs).toContain('absent(up{job="appcluster"})');
    expect(exprs).not.toMatch(/up\{(?![^}]*job="appcluster")/);
  });
});

describe('alertmanager.yml', () => {
  const config = readYaml(amConfig);
  const alertNames = new Set(alerts.map((a) => a.alert));

  it('passes amtool check-config (templates included)', () => {
    const r = tool('amtool', ['check-config', amConfig]);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
    expect(r.stdout).toMatch(/1 templates/);
  });

  // Every alert with its own labels, plus label sets an alert could carry.
  const cases: [string, string[], string][] = [
    ...alerts.map((a): [string, string[], string] => [
      a.alert,
      [`alertname=${a.alert}`, ...Object.entries(a.labels ?? {}).map(([k, v]) => `${k}=${v}`), 'app_cluster=mft-prod', 'server=node-2'],
      // The monitoring's own faults go to whoever runs it, not to the clusters' operators.
      a.alert === 'AppClusterWatchdog' ? 'appcluster-watchdog' : a.labels?.['owner'] === 'monitoring' ? 'appcluster-monitoring' : 'appcluster-email',
    ]),
    ['exporter alert without app_cluster', ['alertname=AppClusterExporterDown', 'severity=critical', 'job=appcluster'], 'appcluster-email'],
    ['unknown info alert', ['alertname=Other', 'severity=info', 'app_cluster=x'], 'appcluster-email'],
  ];
  it.each(cases)('routes %s to %s', (_name, labels, receiver) => {
    const r = tool('amtool', ['config', 'routes', 'test', `--config.file=${amConfig}`, ...labels]);
    expect(r.status, output(r)).toBe(0);
    expect(r.stdout.trim()).toBe(receiver);
  });

  it('groups by cluster and alert name and e-mails resolved alerts', () => {
    expect(config.route.group_by).toEqual(['app_cluster', 'alertname']);
    const email = config.receivers.find((r: any) => r.name === 'appcluster-email');
    const [mail] = email.email_configs;
    expect(mail.send_resolved).toBe(true);
    expect(mail.smarthost).toBe('localhost:25');
    expect(mail.auth_password_file).toBeTruthy();
    expect(mail.auth_password).toBeUndefined();
    expect(config.receivers.find((r: any) => r.name === 'appcluster-watchdog')).toBeDefined();
  });

  it('uses matchers, never the deprecated match, and names only existing alerts', () => {
    const raw = readFileSync(amConfig, 'utf8');
    expect(raw).not.toMatch(/^\s*(-\s+)?(match|match_re|source_match|source_match_re|target_match|target_match_re):/m);
    const matchers: string[] = [
      ...(config.route.routes ?? []).flatMap((r: any) => r.matchers ?? []),
      ...config.inhibit_rules.flatMap((r: any) => [...r.source_matchers, ...r.target_matchers]),
    ];
    const named = matchers.flatMap((m) => {
      const mt = /^alertname\s*(=~|=)\s*"(.*)"$/.exec(m);
      return mt?.[2] ? mt[2].split('|') : [];
    });
    expect(named.length).toBeGreaterThan(0);
    for (const n of named) expect(alertNames, `${n} is not an alert`).toContain(n);
  });

  it('inhibits server alerts under cluster down and component alerts under server offline', () => {
    const rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[] = config.inhibit_rules;
    const find = (source: string, target: string) =>
      rules.find(
        (r) =>
          r.source_matchers.some((m) => m.includes(`"${source}"`)) &&
          r.target_matchers.some((m) => new RegExp(`"(.*\\|)?${target}(\\|.*)?"`).test(m)),
      );
    expect(find('AppClusterClusterDown', 'AppClusterServerOffline')?.equal).toEqual(['app_cluster']);
    expect(find('AppClusterServerOffline', 'AppClusterComponentDown')?.equal).toEqual(['app_cluster', 'server']);
    expect(find('AppClusterServerOffline', 'AppClusterHeartbeatStale')?.equal).toEqual(['app_cluster', 'server']);
    // One server Offline is one e-mail: the server's, not the cluster's "degraded" as well.
    expect(find('AppClusterServerOffline', 'AppClusterClusterDegraded')?.equal).toEqual(['app_cluster']);
    const certificate = rules.find((r) => r.source_matchers.includes('severity = "critical"') && r.target_matchers.includes('alertname = "AppClusterCertificateExpiring"'));
    expect(certificate?.target_matchers).toContain('severity = "warning"');
    expect(certificate?.equal).toEqual(['app_cluster', 'server', 'component']);
  });
});

describe('e-mail template', () => {
  const [mail] = readYaml(amConfig).receivers.find((r: any) => r.name === 'appcluster-email').email_configs;
  const fixture = (name: string) => join(alertmanagerDir, 'tests', `${name}.json`);

  function render(text: string, data: string, type: 'text' | 'html' = 'text'): string {
    const r = tool('amtool', [
      'template',
      'render',
      `--template.glob=${emailTemplate}`,
      `--template.text=${text}`,
      `--template.type=${type}`,
      `--template.data=${data}`,
    ]);
    expect(r.status, output(r)).toBe(0);
    return r.stdout;
  }

  it.each([
    ['server-offline-firing', '[FIRING] AppCluster mft-prod: server node-2 Offline'],
    ['server-offline-resolved', '[RESOLVED] AppCluster mft-prod: server node-2 Online'],
    ['component-down-mixed', '[FIRING:2] AppCluster ci-prod: A component of an active server is down: ci-1/web, ci-2/admin'],
    ['exporter-down-firing', '[FIRING] AppCluster exporter: No appcluster exporter replica can be scraped'],
  ])('subject for %s', (name, subject) => {
    expect(render(mail.headers.Subject, fixture(name)).trim()).toBe(subject);
  });

  it('plain-text body says which cluster and server, Offline since when, why, and links', () => {
    const text = render(mail.text, fixture('server-offline-firing'));
    expect(text).toContain('Cluster:    mft-prod');
    expect(text).toContain('Server:     node-2');
    // When the exporter judged it Offline (the alert's offline_since), not when the alert fired.
    expect(text).toContain('Status:     Offline since 2025-03-01 10:13:52 UTC');
    expect(text).toContain('Why:        Server node-2 of cluster mft-prod is Offline; failing probes: web (timeout)');
    expect(text).toContain(`Runbook:    ${RUNBOOK_BASE}#appclusterserveroffline`);
    expect(text).toMatch(/Dashboard: {2}http:\/\/\S+\/d\/appcluster-server\?var-app_cluster=mft-prod&var-server=node-2\n/);
    expect(text).toContain('Exporter status page: http://');
  });

  it('links only to dashboards and variables that dashboards/ defines', () => {
    const dashboards = new Map<string, Set<string>>();
    for (const f of readdirSync(join(root, 'dashboards')).filter((n) => n.endsWith('.json'))) {
      const d = JSON.parse(readFileSync(join(root, 'dashboards', f), 'utf8'));
      dashboards.set(d.uid, new Set((d.templating?.list ?? []).map((v: { name: string }) => v.name)));
    }
    const links = [...readFileSync(emailTemplate, 'utf8').matchAll(/\/d\/([\w-]+)([^\s{]*(?:\{\{[^}]*\}\}[^\s{]*)*)/g)];
    expect(links.length).toBeGreaterThanOrEqual(3);
    for (const [, uid, rest] of links) {
      expect(dashboards.has(uid!), `dashboards/ has no dashboard with uid ${uid}`).toBe(true);
      for (const [, variable] of (rest ?? '').matchAll(/var-([\w]+)=/g)) {
        expect(dashboards.get(uid!), `dashboard ${uid} has no variable ${variable}`).toContain(variable);
      }
    }
  });

  // The alert resolves keep_firing_for after the recovery, so its end is not when the
  // server came back: the e-mail gives it as the time the alert resolved.
  it('plain-text body of a resolved alert says Online and when the alert resolved', () => {
    const text = render(mail.text, fixture('server-offline-resolved'));
    expect(text).toContain('Status:     Online; alert resolved 2025-03-01 10:42:30 UTC, started 2025-03-01 10:15:00 UTC');
  });

  it('HTML body carries the same facts, escaped', () => {
    const html = render(mail.html, fixture('server-offline-firing'), 'html');
    expect(html).toContain('<td>Server</td><td>node-2</td>');
    expect(html).toMatch(/<b[^>]*>Offline<\/b> since 2025-03-01 10:13:52 UTC/);
    expect(html).toContain('failing probes: web (timeout) &lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain(`href="${RUNBOOK_BASE}#appclusterserveroffline"`);
  });
});
