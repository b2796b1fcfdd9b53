import { describe, it, expect } from 'vitest';
import {
  metricNames,
  panelQueries,
  selectors,
  substituteVariables,
  variableQueryExpr,
  type Dashboard,
} from './promql-names.js';

describe('metricNames', () => {
  const cases: Array<[string, string[]]> = [
    ['up', ['up']],
    ['appcluster_component_up{app_cluster="a", server=~"s.*"}', ['appcluster_component_up']],
    ['sum by (app_cluster, server) (appcluster_server_online)', ['appcluster_server_online']],
    ['sum(appcluster_server_online) by (app_cluster)', ['appcluster_server_online']],
    ['count without (instance, job) (appcluster_component_info)', ['appcluster_component_info']],
    ['rate(appcluster_component_probe_failures_total[$__rate_interval])', ['appcluster_component_probe_failures_total']],
    ['rate(x_total[5m] offset 1h) > bool 0', ['x_total']],
    ['max_over_time(a[1h:5m]) and on (app_cluster) b unless ignoring (server) c', ['a', 'b', 'c']],
    [
      'a * on (app_cluster, server) group_left (address, os) b + ignoring(le) group_right c',
      ['a', 'b', 'c'],
    ],
    ['appcluster:server_online:max == 0', ['appcluster:server_online:max']],
    ['histogram_quantile(0.99, sum by (le) (rate(h_bucket{le!="+Inf"}[5m])))', ['h_bucket']],
    ['label_replace(a, "dst", "$1 or b", "src", "(.*)")', ['a']],
    ['count_values("version", appcluster_component_info)', ['appcluster_component_info']],
    ['topk(3, a) / 1e3 + 0x1F - .5 * 2h', ['a']],
    ['a @ start() offset -5m', ['a']],
    ['absent(up{job="appcluster"} == 1) or vector(0)', ['up']],
    ['{__name__="appcluster_server_online", app_cluster="a"}', ['appcluster_server_online']],
    ['{__name__=~"appcluster_.+"}', []],
    ['time() - appcluster_component_last_probe_timestamp_seconds', ['appcluster_component_last_probe_timestamp_seconds']],
    ['a{l="}{ by (x) \\" b"} # a comment naming c\n+ d', ['a', 'd']],
    ['sum by (app_cluster) (ALERTS{alertstate="firing"})', ['ALERTS']],
    ['atan2(a, b)', ['a', 'b']],
    ['a atan2 b', ['a', 'b']],
    ['1 - avg(a) BY (x)', ['a']],
    ['inf + NaN', []],
  ];
  for (const [expr, names] of cases) {
    it(expr, () => {
      expect(metricNames(expr)).toEqual(names);
    });
  }

  it('reports the label names of each selector', () => {
    expect(selectors('a{app_cluster="x", server!~"y"} / on (server) b{component="web"}')).toEqual([
      { name: 'a', labels: ['app_cluster', 'server'] },
      { name: 'b', labels: ['component'] },
    ]);
  });

  it('rejects unbalanced input instead of guessing', () => {
    expect(() => metricNames('a{l="x"')).toThrow(/bad matcher|unexpected|unterminated/);
    expect(() => metricNames('rate(a[5m)')).toThrow(/unbalanced/);
  });
});

describe('variableQueryExpr', () => {
  it('unwraps label_values and query_result', () => {
    expect(variableQueryExpr('label_values(appcluster_server_info{app_cluster=~"$app_cluster"}, site)')).toBe(
      'appcluster_server_info{app_cluster=~"$app_cluster"}',
    );
    expect(variableQueryExpr('query_result(topk(5, up))')).toBe('topk(5, up)');
  });
  it('has no expression for label-only queries', () => {
    expect(variableQueryExpr('label_values(app_cluster)')).toBeUndefined();
    expect(variableQueryExpr('metrics(appcluster_.*)')).toBeUndefined();
  });
});

describe('substituteVariables', () => {
  it('substitutes the Grafana forms and leaves unknown names alone', () => {
    const out = substituteVariables('a{c=~"$app_cluster", s="${server}", x="[[server]]"}[$__rate_interval] "$1"', {
      app_cluster: ['a.b', 'c'],
      server: 'one',
    });
    expect(out).toBe('a{c=~"(a\\\\.b|c)", s="one", x="one"}[1m] "$1"');
  });
  it('formats a single-value selection without a group', () => {
    expect(substituteVariables('$v', { v: ['x'] })).toBe('x');
  });
});

describe('panelQueries', () => {
  const dashboard: Dashboard = {
    panels: [
      { type: 'row', title: 'Row', panels: [] },
      {
        type: 'table',
        title: 'T',
        targets: [
          { refId: 'A', expr: 'up{job="$job"}', instant: true, range: false },
          { refId: 'B', expr: 'down', hide: true },
        ],
      },
      {
        type: 'row',
        title: 'Collapsed',
        collapsed: true,
        panels: [{ type: 'timeseries', title: 'Nested', targets: [{ refId: 'A', expr: 'rate(x[$__rate_interval])' }] }],
      },
    ],
  };
  it('lists visible queries of every panel, nested ones included, with variables substituted', () => {
    expect(panelQueries(dashboard, { job: 'appcluster', __rate_interval: '2m' })).toEqual([
      { panelTitle: 'T', refId: 'A', expr: 'up{job="appcluster"}', instant: true },
      { panelTitle: 'Nested', refId: 'A', expr: 'rate(x[2m])', instant: false },
    ]);
  });
});
