/**
 * Small typed helpers over `@grafana/grafana-foundation-sdk` that the dashboards' panels
 * share: the datasource variable, a PromQL query, thresholds, colours and value mappings.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';

/** A panel or a row, as the dashboard builder takes them. */
export type PanelOrRow = cog.Builder<dashboard.Panel> | dashboard.RowBuilder;

/** Every panel and query reads the dashboard's `datasource` variable. */
export const DS: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** A PromQL query in code mode: a range query unless `instant`, time series unless `table`. */
export function query(refId: string, expr: string, o: { instant?: boolean; table?: boolean; legend?: string } = {}): prometheus.DataqueryBuilder {
  const q = new prometheus.DataqueryBuilder()
    .datasource(DS)
    .editorMode(prometheus.QueryEditorMode.Code)
    .refId(refId)
    .expr(expr)
    .format(o.table ? prometheus.PromQueryFormat.Table : prometheus.PromQueryFormat.TimeSeries);
  if (o.legend !== undefined) q.legendFormat(o.legend);
  return o.instant ? q.instant() : q.range();
}

/** Absolute thresholds from [colour, lower bound] steps; the first bound is null (from -infinity). */
export function thresholds(...steps: [string, number | null][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([color, value]) => ({ color, value })));
}

export function colorScheme(mode: dashboard.FieldColorModeId): dashboard.FieldColorBuilder {
  return new dashboard.FieldColorBuilder().mode(mode);
}

/** Value-to-text mappings: each raw value's text, colour and order. */
export function valueMap(options: Record<string, dashboard.ValueMappingResult>): dashboard.ValueMapping {
  return { type: dashboard.MappingType.ValueToText, options };
}
