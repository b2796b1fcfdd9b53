/**
 * The Grafana dashboards. The panels are kept as Grafana's own JSON model in
 * mixin/dashboards/*.json, written without the exporter's job: the generator gives every
 * dashboard a `job` template variable (built with the typed model of
 * `@grafana/grafana-foundation-sdk`, its values the jobs the configuration's selector
 * finds), adds `job=~"$job"` to every series the exporter's target reports, and sets the
 * uids and titles from the configuration.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type { MixinConfig } from './config.js';

/** One dashboard file: its name in dashboards/ and its source in mixin/dashboards/. */
export const DASHBOARDS = [
  { file: 'cluster-overview.json', uidSuffix: 'overview' },
  { file: 'server-detail.json', uidSuffix: 'server' },
  { file: 'exporter.json', uidSuffix: 'exporter' },
] as const;

const JOB_MATCHER = 'job=~"$job"';
/** Series of the exporter's scrape target: its own, and those Prometheus adds to each target. */
const TARGET_SERIES = /\b(appcluster_[a-z0-9_]+|up|scrape_duration_seconds|process_[a-z_]+|nodejs_[a-z_]+)\b(\{\}|\{)?/g;

/** `expr` with the job variable's matcher on every series of the exporter's target. */
export function withJob(expr: string): string {
  return expr.replace(TARGET_SERIES, (_, name: string, brace: string | undefined) =>
    brace === '{' ? `${name}{${JOB_MATCHER}, ` : `${name}{${JOB_MATCHER}}`,
  );
}

/** The `job` variable: the jobs whose targets the configuration's selector picks. */
function jobVariable(config: MixinConfig): dashboard.VariableModel {
  const query = `label_values(appcluster_exporter_build_info{${config.selector}}, job)`;
  return new dashboard.QueryVariableBuilder('job')
    .label('Job')
    .datasource({ type: 'prometheus', uid: '${datasource}' })
    .query({ qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+')
    .current({ text: 'All', value: '$__all' })
    .build();
}

type Json = Record<string, unknown>;

/** Applies `withJob` to every query of a panel, rows' nested panels included. */
function panelWithJob(panel: Json): Json {
  const targets = (panel['targets'] as Json[] | undefined)?.map((t) => (typeof t['expr'] === 'string' ? { ...t, expr: withJob(t['expr']) } : t));
  const nested = (panel['panels'] as Json[] | undefined)?.map(panelWithJob);
  return { ...panel, ...(targets ? { targets } : {}), ...(nested ? { panels: nested } : {}) };
}

function variableWithJob(v: Json): Json {
  if (v['type'] !== 'query') return v;
  const query = v['query'] as Json | string;
  return {
    ...v,
    ...(typeof v['definition'] === 'string' ? { definition: withJob(v['definition']) } : {}),
    query: typeof query === 'string' ? withJob(query) : { ...query, query: withJob(String(query['query'])) },
  };
}

/** Rewrites links between the dashboards (`/d/appcluster-...`) to the configured uids. */
function relink(text: string, prefix: string): string {
  return text.replace(/\/d\/appcluster-(overview|server|exporter)\b/g, `/d/${prefix}-$1`);
}

/**
 * The dashboards for a configuration, by file name, as the JSON text Grafana imports.
 * @param sourceDir the folder of the panel sources (mixin/dashboards)
 */
export function dashboards(config: MixinConfig, sourceDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const { uid_prefix: prefix, title_prefix: titlePrefix } = config.dashboards;
  for (const { file, uidSuffix } of DASHBOARDS) {
    const source = JSON.parse(relink(readFileSync(join(sourceDir, file), 'utf8'), prefix)) as Json;
    const list = ((source['templating'] as { list: Json[] }).list ?? []).map(variableWithJob);
    // The job right after the datasource: every later variable's query reads it.
    const [datasource, ...rest] = list;
    const built: Json = {
      ...source,
      uid: `${prefix}-${uidSuffix}`,
      title: String(source['title']).replace(/^App cluster/, titlePrefix),
      panels: (source['panels'] as Json[]).map(panelWithJob),
      templating: { list: [datasource, jobVariable(config) as unknown as Json, ...rest] },
    };
    out.set(file, `${JSON.stringify(built, null, 2)}\n`);
  }
  return out;
}
