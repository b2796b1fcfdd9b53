/**
 * Dashboards and alert rules are held to the metric catalogue: a panel, variable or rule
 * that reads a metric the exporter does not expose (or a label it does not carry) fails
 * here, as do a dashboard without a stable uid, a datasource variable or panel units.
 * No Grafana runs here; the end-to-end test runs every panel query against Prometheus.
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { allMetricSpecs, exposedSeriesNames } from '../../src/metrics/catalogue.js';
import {
  allPanels,
  panelQueries,
  selectors,
  variableQueryExpr,
  type Dashboard,
  type DashboardPanel,
  type VariableValue,
} from '../helpers/promql-names.js';
import { run } from '../helpers/tools.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dashboardsDir = join(root, 'dashboards');
const alertsDir = join(root, 'alerts');

const EXPECTED_UIDS: Record<string, string> = {
  'cluster-overview.json': 'appcluster-overview',
  'server-detail.json': 'appcluster-server',
  'exporter.json': 'appcluster-exporter',
};

/** Series that are not ours but that dashboards and rules may read, with their labels. */
const OTHER_SERIES: Record<string, readonly string[] | 'any'> = {
  up: [],
  scrape_duration_seconds: [],
  ALERTS: 'any',
  process_cpu_seconds_total: [],
  process_resident_memory_bytes: [],
  nodejs_eventloop_lag_seconds: [],
};
/** Labels Prometheus attaches to every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

const exposed = exposedSeriesNames();

function allowedLabels(name: string): readonly string[] | 'any' | undefined {
  const other = OTHER_SERIES[name];
  if (other !== undefined) return other === 'any' ? 'any' : [...other, ...TARGET_LABELS];
  if (!exposed.has(name)) return undefined;
  const spec = allMetricSpecs.find((m) => m.name === name || name.startsWith(`${m.name}_`));
  const extra = name.endsWith('_bucket') ? ['le'] : [];
  return [...(spec?.labels ?? []), ...extra, ...TARGET_LABELS];
}

/** Problems with the metric names and matcher labels of one expression. */
function selectorProblems(expr: string, extraNames: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  for (const sel of selectors(expr)) {
    if (extraNames.has(sel.name)) continue;
    const labels = allowedLabels(sel.name);
    if (labels === undefined) {
      problems.push(`${sel.name} is not exposed by the exporter`);
    } else if (labels !== 'any') {
      for (const l of sel.labels) if (!labels.includes(l)) problems.push(`${sel.name} has no label ${l}`);
    }
  }
  return problems;
}

function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8')) as Dashboard;
}

const DS_REF = /^\$\{?datasource\}?$/;

function datasourceUid(ds: unknown): string | undefined {
  if (typeof ds === 'string') return ds;
  if (ds && typeof ds === 'object' && 'uid' in ds) return String((ds as { uid: unknown }).uid);
  return undefined;
}

/** Every `datasource` value anywhere in the JSON, with where it was found. */
function datasourceRefs(node: unknown, path = '$'): Array<{ path: string; uid: string | undefined }> {
  if (Array.isArray(node)) return node.flatMap((n, i) => datasourceRefs(n, `${path}[${i}]`));
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) =>
    k === 'datasource' ? [{ path: `${path}.${k}`, uid: datasourceUid(v) }] : datasourceRefs(v, `${path}.${k}`),
  );
}

const isVisual = (p: DashboardPanel) => p.type !== 'row' && p.type !== 'text';

/** A value for every template variable, multi-value ones as two values to exercise the regex form. */
function sampleVars(d: Dashboard): Record<string, VariableValue> {
  const vars: Record<string, VariableValue> = {};
  for (const v of d.templating?.list ?? []) vars[v.name] = v.multi === true ? ['one', 'two'] : 'one';
  return vars;
}

function variableQuery(v: { query?: unknown; definition?: string }): string {
  if (typeof v.query === 'string') return v.query;
  if (v.query && typeof v.query === 'object' && 'query' in v.query) return String((v.query as { query: unknown }).query);
  return v.definition ?? '';
}

describe('dashboards', () => {
  const files = readdirSync(dashboardsDir).filter((f) => f.endsWith('.json'));

  it('are exactly the expected files', () => {
    expect(files.sort()).toEqual(Object.keys(EXPECTED_UIDS).sort());
  });

  for (const file of files) {
    describe(file, () => {
      const d = loadDashboard(file);
      const panels = allPanels(d);
      const variables = d.templating?.list ?? [];

      it('has its stable uid, no id and no export noise', () => {
        expect(d.uid).toBe(EXPECTED_UIDS[file]);
        expect(d.id).toBeNull();
        expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
        expect(d).not.toHaveProperty('iteration');
        expect(d).not.toHaveProperty('version');
        expect(JSON.stringify(d)).not.toMatch(/"pluginVersion"/);
      });

      it('has a Prometheus datasource variable used by every panel, query and variable', () => {
        const dsVar = variables.find((v) => v.type === 'datasource');
        expect(dsVar?.name).toBe('datasource');
        expect(dsVar?.query).toBe('prometheus');
        const refs = datasourceRefs(d);
        expect(refs.filter((r) => !DS_REF.test(r.uid ?? '')), 'datasource references other than ${datasource}').toEqual(
          [],
        );
        for (const p of panels.filter(isVisual)) {
          expect(DS_REF.test(datasourceUid(p.datasource) ?? ''), `panel ${p.title} datasource`).toBe(true);
          for (const t of p.targets ?? []) {
            expect(DS_REF.test(datasourceUid(t.datasource) ?? ''), `panel ${p.title} ${t.refId} datasource`).toBe(true);
          }
        }
        for (const v of variables.filter((x) => x.type === 'query')) {
          expect(DS_REF.test(datasourceUid(v.datasource) ?? ''), `variable ${v.name} datasource`).toBe(true);
        }
      });

      // The mixin's job variable: every series of the exporter's target is read for the chosen jobs.
      it('takes the job as a template variable and selects every exporter series by it', () => {
        const job = variables.find((v) => v.name === 'job');
        expect(variableQuery(job ?? {})).toBe('label_values(appcluster_exporter_build_info{job="appcluster"}, job)');
        const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => String(t.expr ?? '')));
        for (const sel of exprs.flatMap((e) => selectors(e))) {
          if (sel.name === 'ALERTS') continue;
          expect(sel.labels, `${sel.name} in ${file}`).toContain('job');
        }
      });

      it('gives every panel a unit, a unique id and a place on the grid', () => {
        for (const p of panels.filter(isVisual)) {
          const unit = p.fieldConfig?.defaults?.unit;
          expect(typeof unit === 'string' && unit.length > 0, `panel "${p.title}" has a unit`).toBe(true);
          expect(p.gridPos, `panel "${p.title}" gridPos`).toBeDefined();
          expect(p.targets?.length ?? 0, `panel "${p.title}" has queries`).toBeGreaterThan(0);
        }
        const ids = panels.map((p) => p.id);
        expect(new Set(ids).size).toBe(ids.length);
        const titles = panels.filter(isVisual).map((p) => p.title);
        expect(new Set(titles).size, 'panel titles are unique (the end-to-end test names panels by title)').toBe(
          titles.length,
        );
      });

      it('reads only exposed metrics and their labels', () => {
        const problems: string[] = [];
        for (const p of panels) {
          for (const t of p.targets ?? []) {
            for (const problem of selectorProblems(t.expr ?? '')) problems.push(`panel "${p.title}" ${t.refId}: ${problem}`);
          }
        }
        for (const v of variables.filter((x) => x.type === 'query')) {
          const expr = variableQueryExpr(variableQuery(v));
          for (const problem of selectorProblems(expr ?? '')) problems.push(`variable ${v.name}: ${problem}`);
        }
        expect(problems).toEqual([]);
      });

      it('uses $__rate_interval for every range', () => {
        for (const p of panels) {
          for (const t of p.targets ?? []) {
            for (const m of (t.expr ?? '').matchAll(/\[([^\]]*)\]/g)) {
              expect(m[1], `panel "${p.title}" ${t.refId}`).toBe('$__rate_interval');
            }
          }
        }
      });

      it('has only queries that Prometheus parses, with variables substituted', () => {
        const queries = panelQueries(d, sampleVars(d));
        expect(queries.length).toBeGreaterThan(0);
        const rules = {
          groups: [
            {
              name: 'dashboard',
              rules: queries.map((q, i) => ({ record: `dashboard:query_${i}:check`, expr: q.expr })),
            },
          ],
        };
        const dir = mkdtempSync(join(tmpdir(), 'appcluster-dashboard-'));
        try {
          const file = join(dir, 'rules.yml');
          writeFileSync(file, stringify(rules));
          const r = run('promtool', ['check', 'rules', file]);
          expect(r.status, r.out).toBe(0);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it('is described panel by panel in dashboards/README.md', () => {
        const readme = readFileSync(join(dashboardsDir, 'README.md'), 'utf8');
        expect(readme).toContain(file);
        for (const p of panels.filter(isVisual)) expect(readme, `README mentions "${p.title}"`).toContain(p.title);
      });
    });
  }
});

describe('cluster-overview.json', () => {
  const d = loadDashboard('cluster-overview.json');
  const panels = allPanels(d);
  const exprsOf = (p: DashboardPanel) => (p.targets ?? []).map((t) => t.expr ?? '').join('\n');
  const usingMetric = (type: string, metric: string) =>
    panels.filter((p) => p.type === type && selectors(exprsOf(p)).some((s) => s.name === metric));

  it('selects clusters and sites', () => {
    const vars = Object.fromEntries((d.templating?.list ?? []).map((v) => [v.name, v]));
    expect(variableQuery(vars.app_cluster ?? {})).toBe('label_values(appcluster_cluster_info{job=~"$job"}, app_cluster)');
    expect(variableQuery(vars.site ?? {})).toBe('label_values(appcluster_server_info{job=~"$job", app_cluster=~"$app_cluster"}, site)');
    for (const name of ['app_cluster', 'site']) {
      expect(vars[name]?.multi, name).toBe(true);
      expect(vars[name]?.includeAll, name).toBe(true);
    }
  });

  it('shows the cluster configuration', () => {
    const stats = new Map(panels.filter((p) => p.type === 'stat').map((p) => [p.title, exprsOf(p)]));
    const expected: Record<string, string> = {
      'Servers configured': 'appcluster_server_info',
      'Servers online': 'appcluster_server_online',
      'Load balancing (as configured)': 'appcluster_cluster_info',
      'Automatic failover (as configured)': 'appcluster_cluster_info',
      'Heartbeat interval': 'appcluster_cluster_heartbeat_interval_seconds',
      'Stale timeout': 'appcluster_component_stale_timeout_seconds',
    };
    for (const [title, metric] of Object.entries(expected)) {
      expect(stats.has(title), title).toBe(true);
      expect(selectors(stats.get(title) ?? '').map((s) => s.name), title).toContain(metric);
    }
    // Issue 29, item 8: a setting the file leaves out is "Not set" (the label empty), never "Disabled".
    for (const title of ['Load balancing (as configured)', 'Automatic failover (as configured)']) {
      const panel = panels.find((p) => p.title === title)!;
      expect(JSON.stringify(panel.fieldConfig?.defaults?.mappings ?? []), title).toMatch(/"-1":\{"text":"Not set"/);
      expect(exprsOf(panel), title).toMatch(/="false"\}\) \* 0\nor\n.*\* -1$/);
    }
    // Maintenance mode wins over the configured "on", as on the status page.
    const failover = panels.find((p) => p.title === 'Automatic failover (as configured)')!;
    expect(exprsOf(failover)).toMatch(/^\(max by \(app_cluster\) \(appcluster_component_value\{[^}]*name="automatic_failover_paused"\}\) == 1\) \* 2\nor\n/);
    expect(JSON.stringify(failover.fieldConfig?.defaults?.mappings ?? [])).toMatch(/"2":\{"text":"Paused \(maintenance mode\)"/);
  });

  it('has a servers table built from instant queries, with Online/Offline status and a link to the server dashboard', () => {
    const [servers] = usingMetric('table', 'appcluster_server_online');
    expect(servers, 'a table reading appcluster_server_online').toBeDefined();
    if (!servers) return;
    for (const t of servers.targets ?? []) {
      expect(t.instant, t.refId).toBe(true);
      expect(t.format, t.refId).toBe('table');
    }
    const read = selectors(exprsOf(servers)).map((s) => s.name);
    for (const m of [
      'appcluster_server_info',
      'appcluster_component_up',
      'appcluster_component_heartbeat_age_seconds',
      'appcluster_component_info',
      'appcluster_component_version_in_sync',
      'appcluster_component_key_in_sync',
    ]) {
      expect(read, m).toContain(m);
    }
    const transformations = (servers.transformations ?? []) as Array<{ id: string }>;
    expect(transformations.map((t) => t.id)).toEqual(expect.arrayContaining(['merge', 'organize']));

    const overrides = (servers.fieldConfig?.overrides ?? []) as Array<{
      matcher: { id: string; options: string };
      properties: Array<{ id: string; value: unknown }>;
    }>;
    const status = overrides.find((o) => o.matcher.options === 'Status');
    const mappings = JSON.stringify(status?.properties.find((p) => p.id === 'mappings')?.value ?? []);
    expect(mappings).toContain('"text":"Online"');
    expect(mappings).toContain('"text":"Offline"');
    const links = JSON.stringify([
      servers.fieldConfig?.defaults?.links ?? [],
      overrides.flatMap((o) => o.properties.filter((p) => p.id === 'links')),
    ]);
    expect(links).toContain('/d/appcluster-server');
  });

  it('has a state timeline of server status and a heartbeat-age time series', () => {
    expect(usingMetric('state-timeline', 'appcluster_server_online')).toHaveLength(1);
    expect(usingMetric('timeseries', 'appcluster_component_heartbeat_age_seconds')).toHaveLength(1);
  });

  it('lists the alerts firing now', () => {
    const [alerts] = usingMetric('table', 'ALERTS');
    expect(alerts?.targets?.[0]?.expr).toBe('ALERTS{alertstate="firing", app_cluster=~"$app_cluster"}');
  });
});

describe('server-detail.json and exporter.json', () => {
  const metricsOf = (file: string) =>
    new Set(
      allPanels(loadDashboard(file)).flatMap((p) => (p.targets ?? []).flatMap((t) => selectors(t.expr ?? '').map((s) => s.name))),
    );

  it('server-detail selects one server and shows its components', () => {
    const d = loadDashboard('server-detail.json');
    expect((d.templating?.list ?? []).map((v) => v.name)).toEqual(['datasource', 'job', 'app_cluster', 'server']);
    const used = metricsOf('server-detail.json');
    for (const m of [
      'appcluster_component_up',
      'appcluster_component_probe_duration_seconds',
      'appcluster_component_probe_failures_total',
      'appcluster_component_heartbeat_age_seconds',
      'appcluster_component_info',
    ]) {
      expect(used, m).toContain(m);
    }
  });

  it('exporter shows probes, lag, reloads, scrapes and the process', () => {
    const used = metricsOf('exporter.json');
    for (const m of [
      'appcluster_exporter_probes_total',
      'appcluster_exporter_probe_duration_seconds_bucket',
      'appcluster_exporter_probe_schedule_lag_seconds_bucket',
      'appcluster_exporter_probes_in_flight',
      'appcluster_exporter_probes_skipped_total',
      'appcluster_exporter_config_last_reload_successful',
      'appcluster_exporter_config_last_reload_success_timestamp_seconds',
      'scrape_duration_seconds',
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
    ]) {
      expect(used, m).toContain(m);
    }
  });
});

describe('alert and recording rules', () => {
  interface Rule {
    record?: string;
    alert?: string;
    expr: string;
  }
  // alerts/ holds only rule files (test/alerts/rules.test.ts: `promtool check rules alerts/*.yml`).
  const ruleFiles = readdirSync(alertsDir)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ file: f, doc: parse(readFileSync(join(alertsDir, f), 'utf8')) as { groups?: Array<{ rules: Rule[] }> } }));

  it('finds the rule files in alerts/, and nothing else there', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    for (const f of ruleFiles) expect(Array.isArray(f.doc.groups), `${f.file} has no rule groups`).toBe(true);
  });

  const rules = ruleFiles.flatMap((f) => (f.doc.groups ?? []).flatMap((g) => g.rules.map((r) => ({ ...r, file: f.file }))));
  const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

  for (const { file } of ruleFiles) {
    it(`${file} reads only exposed metrics and recording rules defined in alerts/`, () => {
      const problems = rules
        .filter((r) => r.file === file)
        .flatMap((r) => selectorProblems(r.expr, recorded).map((p) => `${r.alert ?? r.record}: ${p}`));
      expect(problems).toEqual([]);
    });
  }
});
