/**
 * The mixin generator (mixin/): the committed files are what it makes from mixin/config.yml,
 * and an operator's own configuration (another job, runbooks on an internal wiki, another
 * Grafana) comes out in rules, Alertmanager files, e-mail links and dashboards that
 * promtool and amtool accept.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadMixinConfig, parseMixinConfig } from '../../mixin/config.js';
import { generate } from '../../mixin/generate.js';
import { ROOT } from '../helpers/services.js';

function tool(name: string, args: readonly string[]): { status: number; out: string; stdout: string } {
  const r = spawnSync(name, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}

describe('the committed generated files', () => {
  it('are what npm run generate:mixin makes from mixin/config.yml', () => {
    const files = generate({ config: loadMixinConfig(join(ROOT, 'mixin', 'config.yml')), configName: 'mixin/config.yml', root: ROOT, compose: true });
    expect(files.size).toBeGreaterThanOrEqual(10);
    const stale = [...files].filter(([path, text]) => readFileSync(join(ROOT, path), 'utf8') !== text).map(([path]) => path);
    expect(stale, 'stale generated files: run npm run generate:mixin').toEqual([]);
  });

  it('mixin/config.yml holds only the defaults', () => {
    expect(loadMixinConfig(join(ROOT, 'mixin', 'config.yml'))).toEqual(parseMixinConfig(''));
  });
});

describe("an operator's configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), 'mixin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const configText = `selector: 'job="mft-exporter"'
runbook_url_pattern: https://wiki.example.internal/ops/appcluster#%s
grafana_url: https://grafana.example.internal/
status_page_url: https://mft-exporter.example.internal
patroni_max_replication_lag_bytes: 1073741824
alerts:
  AppClusterVersionOutOfSync: { for: 30m }
  AppClusterComponentDown: { severity: info }
alertmanager:
  receiver: mft-oncall
dashboards:
  uid_prefix: mft
`;
  const config = parseMixinConfig(configText, 'ops.yml');
  const files = generate({ config, configName: 'ops.yml', root: ROOT });
  for (const [path, text] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const rules = (file: string) => (parse(files.get(file)!).groups as { rules: any[] }[]).flatMap((g) => g.rules);
  const alerts = rules('alerts/alert-rules.yml');

  it('gives rules that promtool accepts, selecting its job and linking its runbooks', () => {
    const r = tool('promtool', ['check', 'rules', join(dir, 'alerts/recording-rules.yml'), join(dir, 'alerts/alert-rules.yml')]);
    expect(r.status, r.out).toBe(0);
    const text = `${files.get('alerts/recording-rules.yml')}${files.get('alerts/alert-rules.yml')}`;
    expect(text).not.toContain('job="appcluster"');
    expect(alerts.find((a) => a.alert === 'AppClusterExporterAbsent').expr).toBe('absent(up{job="mft-exporter"})');
    // Every series the exporter reports, bare or with a selector of its own, selects the job.
    let selected = 0;
    for (const record of rules('alerts/recording-rules.yml')) {
      for (const [series] of String(record.expr).matchAll(/\bappcluster_[a-z0-9_]+(?:\{[^}]*\})?/g)) {
        expect(series).toMatch(/\{job="mft-exporter"/);
        selected++;
      }
    }
    expect(selected).toBeGreaterThan(5);
    for (const a of alerts) expect(a.annotations.runbook_url).toBe(`https://wiki.example.internal/ops/appcluster#${a.alert.toLowerCase()}`);
    expect(alerts.find((a) => a.alert === 'AppClusterVersionOutOfSync').for).toBe('30m');
    expect(alerts.find((a) => a.alert === 'AppClusterPatroniReplicationLag').expr).toMatch(/\n> 1073741824\n/);
    expect(alerts.find((a) => a.alert === 'AppClusterComponentDown').labels.severity).toBe('info');
    expect(alerts.find((a) => a.alert === 'AppClusterServerOffline').for).toBe('1m');
  });

  it('gives Alertmanager files that amtool accepts, routing to its receiver', () => {
    for (const file of ['alertmanager/alertmanager.yml', 'alertmanager/snippet/example-merged.yml']) {
      const r = tool('amtool', ['check-config', join(dir, file)]);
      expect(r.status, `${file}: ${r.out}`).toBe(0);
    }
    const routes = (file: string, ...labels: string[]) =>
      tool('amtool', ['config', 'routes', 'test', `--config.file=${join(dir, file)}`, ...labels]).stdout.trim();
    expect(routes('alertmanager/alertmanager.yml', 'alertname=AppClusterServerOffline', 'app_cluster=x')).toBe('mft-oncall');
    // Merged into an existing tree: ours to ours, theirs stays theirs.
    const merged = 'alertmanager/snippet/example-merged.yml';
    expect(routes(merged, 'alertname=AppClusterServerOffline', 'app_cluster=x')).toBe('mft-oncall');
    expect(routes(merged, 'alertname=AppClusterWatchdog')).toBe('appcluster-watchdog');
    expect(routes(merged, 'alertname=PostgresDown', 'team=database')).toBe('team-database');
    expect(routes(merged, 'alertname=Other')).toBe('team-default');
  });

  it('links the e-mails to its Grafana, dashboards and status page', () => {
    const tmpl = files.get('alertmanager/templates/email.tmpl')!;
    expect(tmpl).toContain('{{ define "appcluster.grafana_url" }}https://grafana.example.internal{{ end }}');
    expect(tmpl).toContain('{{ define "appcluster.exporter_url" }}https://mft-exporter.example.internal{{ end }}');
    expect(tmpl).toContain('/d/mft-server?var-app_cluster=');
    expect(tmpl).not.toContain('/d/appcluster-');
  });

  it('gives dashboards with its uids and its job as the job variable', () => {
    const uids = [...files].filter(([p]) => p.startsWith('dashboards/')).map(([, t]) => JSON.parse(t));
    expect(uids.map((d) => d.uid).sort()).toEqual(['mft-exporter', 'mft-overview', 'mft-server']);
    for (const d of uids) {
      const job = d.templating.list.find((v: any) => v.name === 'job');
      expect(job.query.query).toBe('label_values(appcluster_exporter_build_info{job="mft-exporter"}, job)');
      expect(JSON.stringify(d)).not.toContain('/d/appcluster-');
    }
  });
});

describe('a bad configuration', () => {
  it('is refused naming the file, line and field', () => {
    expect(() => parseMixinConfig('alerts:\n  AppClusterServerOfline: { for: 2m }\n', 'ops.yml')).toThrow(
      /^ops\.yml:2: alerts\.AppClusterServerOfline: unknown alert AppClusterServerOfline/,
    );
    expect(() => parseMixinConfig('keep_firing_for: 1 minute\n', 'ops.yml')).toThrow(/^ops\.yml:1: keep_firing_for: a Prometheus duration/);
    expect(() => parseMixinConfig('runbook_url_pattern: https://wiki/x\n', 'ops.yml')).toThrow(/must hold %s/);
    expect(() => parseMixinConfig('selektor: x\n', 'ops.yml')).toThrow(/ops\.yml.*selektor/);
  });
});
