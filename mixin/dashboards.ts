/**
 * The Grafana dashboards, built with the typed model of `@grafana/grafana-foundation-sdk`
 * (its builders and Grafana's schema types): a panel option, unit mode or query field that
 * does not fit Grafana's model is a type error in `npm run lint` and `npm run build`. The
 * panels are in mixin/dashboards/*.ts, written without the exporter's job: every dashboard
 * gets a `datasource` and a `job` variable (the jobs the configuration's selector finds),
 * every series of the exporter's target gets `job=~"$job"`, and the uids and titles come
 * from the configuration.
 */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import type { MixinConfig } from './config.js';
import { clusterOverviewPanels } from './dashboards/cluster-overview.js';
import { exporterPanels } from './dashboards/exporter.js';
import { DS, type PanelOrRow } from './dashboards/lib.js';
import { serverDetailPanels } from './dashboards/server-detail.js';

const JOB_MATCHER = 'job=~"$job"';
/** Series of the exporter's scrape target: its own, and those Prometheus adds to each target. */
const TARGET_SERIES = /\b(appcluster_[a-z0-9_]+|up|scrape_duration_seconds|process_[a-z_]+|nodejs_[a-z_]+)\b(\{\}|\{)?/g;

/** `expr` with the job variable's matcher on every series of the exporter's target. */
export function withJob(expr: string): string {
  return expr.replace(TARGET_SERIES, (_, name: string, brace: string | undefined) =>
    brace === '{' ? `${name}{${JOB_MATCHER}, ` : `${name}{${JOB_MATCHER}}`,
  );
}

/** One dashboard: its file in dashboards/, uid suffix, title, variables after `job` and panels. */
interface DashboardSource {
  readonly file: string;
  readonly uidSuffix: string;
  readonly title: string;
  readonly description: string;
  readonly variables: () => dashboard.QueryVariableBuilder[];
  readonly panels: () => PanelOrRow[];
}

/** A Prometheus `label_values` variable, refreshed with the time range and sorted. */
function queryVariable(name: string, label: string, expr: string, all: boolean): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(DS)
    .query({ qryType: 1, query: withJob(expr), refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(withJob(expr))
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(all)
    .includeAll(all);
  return all ? v.allValue('.*') : v;
}

export const DASHBOARDS: readonly DashboardSource[] = [
  {
    file: 'cluster-overview.json',
    uidSuffix: 'overview',
    title: 'Overview',
    description: 'Cluster management view: configuration, servers with per-component status, version and key sync, online history and firing alerts.',
    variables: () => [
      queryVariable('app_cluster', 'Cluster', 'label_values(appcluster_cluster_info, app_cluster)', true),
      queryVariable('site', 'Site', 'label_values(appcluster_server_info{app_cluster=~"$app_cluster"}, site)', true),
    ],
    panels: clusterOverviewPanels,
  },
  {
    file: 'server-detail.json',
    uidSuffix: 'server',
    title: 'Server',
    description: 'One server of a cluster: status, components, probes, heartbeats, version history and sync.',
    variables: () => [
      queryVariable('app_cluster', 'Cluster', 'label_values(appcluster_cluster_info, app_cluster)', false),
      queryVariable('server', 'Server', 'label_values(appcluster_server_info{app_cluster="$app_cluster"}, server)', false),
    ],
    panels: serverDetailPanels,
  },
  {
    file: 'exporter.json',
    uidSuffix: 'exporter',
    title: 'Exporter',
    description: 'Health of appcluster-exporter itself: probes, schedule lag, reloads, scrapes and process resources.',
    variables: () => [queryVariable('instance', 'Instance', 'label_values(up, instance)', true)],
    panels: exporterPanels,
  },
];

/** The `job` variable: the jobs whose targets the configuration's selector picks. */
function jobVariable(config: MixinConfig): dashboard.QueryVariableBuilder {
  const query = `label_values(appcluster_exporter_build_info{${config.selector}}, job)`;
  return new dashboard.QueryVariableBuilder('job')
    .label('Job')
    .datasource(DS)
    .query({ qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+');
}

/** Applies `withJob` to every query of a built panel. */
function panelWithJob(panel: dashboard.Panel | dashboard.RowPanel): dashboard.Panel | dashboard.RowPanel {
  if (!('targets' in panel) || !panel.targets) return panel;
  const targets = panel.targets.map((t) => {
    const q = t as prometheus.Dataquery;
    return typeof q.expr === 'string' ? { ...q, expr: withJob(q.expr) } : t;
  });
  return { ...panel, targets };
}

/** Rewrites links between the dashboards (`/d/appcluster-...`) to the configured uids. */
function relink(text: string, prefix: string): string {
  return text.replace(/\/d\/appcluster-(overview|server|exporter)\b/g, `/d/${prefix}-$1`);
}

/** One dashboard for a configuration, as Grafana's dashboard model. */
export function buildDashboard(source: DashboardSource, config: MixinConfig): dashboard.Dashboard {
  const { uid_prefix: prefix, title_prefix: titlePrefix } = config.dashboards;
  const builder = new dashboard.DashboardBuilder(`${titlePrefix} / ${source.title}`)
    .uid(`${prefix}-${source.uidSuffix}`)
    .id(null)
    .description(source.description)
    .tags(['appcluster'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .link(
      new dashboard.DashboardLinkBuilder('appcluster')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['appcluster'])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true)
        .icon('external link')
        .targetBlank(false)
        .tooltip('')
        .url(''),
    )
    .withVariable(new dashboard.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(jobVariable(config));
  for (const v of source.variables()) builder.withVariable(v);
  for (const p of source.panels()) {
    if (p instanceof dashboard.RowBuilder) builder.withRow(p);
    else builder.withPanel(p);
  }
  const built = builder.build();
  return { ...built, panels: (built.panels ?? []).map(panelWithJob) };
}

/** The dashboards for a configuration, by file name, as the JSON text Grafana imports. */
export function dashboards(config: MixinConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const source of DASHBOARDS) {
    out.set(source.file, relink(`${JSON.stringify(buildDashboard(source, config), null, 2)}\n`, config.dashboards.uid_prefix));
  }
  return out;
}
