import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { panelQueries, variableQueryExpr, type Dashboard, type VariableValue } from '../helpers/promql-names.js';
import { fastRuleFiles, query, ROOT, startPrometheus, type Service } from '../helpers/services.js';
import { startStack, waitFor, type Stack } from '../helpers/stack.js';

const dashboardsDir = join(ROOT, 'dashboards');
const dashboards = readdirSync(dashboardsDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(join(dashboardsDir, f), 'utf8')) as Dashboard }));

let stack: Stack;
let prom: Service;
let vars: Record<string, VariableValue>;

beforeAll(async () => {
  stack = await startStack();
  prom = await startPrometheus({ targets: [new URL(stack.exporter.url).host], ruleFiles: await fastRuleFiles(3) });
  await waitFor('scraped', async () => ((await query(prom, 'appcluster:servers_online:sum')).length ? true : undefined), 30_000);
  // Give every panel something to show: a failing component, a drifted version, a firing alert.
  await stack.sim.setFault('node-2', 'http500', { component: 'service' });
  await stack.sim.setFault('node-3', 'version_drift', { component: 'web', value: '8.7.0' });
  await waitFor('alerts firing', async () => ((await query(prom, 'ALERTS{alertstate="firing",app_cluster="sim"}')).length ? true : undefined), 30_000);
  vars = { datasource: 'prometheus', job: ['appcluster'], app_cluster: ['sim'], site: ['primary'], server: 'node-2', instance: [new URL(stack.exporter.url).host] };
});

afterAll(async () => {
  await prom?.stop();
  await stack?.close();
});

async function rangeQuery(expr: string): Promise<unknown[]> {
  const end = Date.now() / 1000;
  const url = `${prom.url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${end - 120}&end=${end}&step=2`;
  const body = (await (await fetch(url)).json()) as { status: string; error?: string; data: { result: unknown[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

describe.each(dashboards)('$file against Prometheus scraping the exporter', ({ json }) => {
  it('every template variable query finds values', async () => {
    for (const v of json.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const expr = variableQueryExpr(typeof v.query === 'string' ? v.query : ((v.query as { query?: string })?.query ?? ''));
      expect(expr, `variable ${v.name}`).toBeDefined();
      const filled = expr!.replace(/\$app_cluster/g, 'sim').replace(/\$job/g, 'appcluster');
      expect((await query(prom, filled)).length, `variable ${v.name}: ${filled}`).toBeGreaterThan(0);
    }
  });

  it('every panel query returns data', async () => {
    const queries = panelQueries(json, vars);
    expect(queries.length).toBeGreaterThan(3);
    const empty: string[] = [];
    for (const q of queries) {
      const result = q.instant ? await query(prom, q.expr) : await rangeQuery(q.expr);
      if (result.length === 0) empty.push(`${q.panelTitle} [${q.refId}]: ${q.expr}`);
    }
    expect(empty).toEqual([]);
  });
});
