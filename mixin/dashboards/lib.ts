/**
 * Small typed helpers over `@grafana/grafana-foundation-sdk` that the dashboards' panels
 * share: the datasource variable, a PromQL query, thresholds, colours, value mappings, and
 * one function per panel type that sets what all panels of that type share and returns the
 * typed builder, so that a call site states only what its panel does differently.
 *
 * The helpers call the builders in the order the panels were first written in: Grafana's
 * JSON is written with `JSON.stringify`, so the order of the calls that fill one object
 * (such as `fieldConfig.defaults`) is the order of its keys in dashboards/*.json.
 */
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

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

/** An instant query in table format, one column per label: what a table panel's queries are. */
export function tableQuery(refId: string, expr: string): prometheus.DataqueryBuilder {
  return query(refId, expr, { instant: true, table: true, legend: '__auto' });
}

/** Absolute thresholds from [colour, lower bound] steps; the first bound is null (from -infinity). */
export function thresholds(...steps: [string, number | null][]): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([color, value]) => ({ color, value })));
}

/** Field colours by `mode`: from the thresholds, or a palette colour per series. */
export function colorScheme(mode: dashboard.FieldColorModeId): dashboard.FieldColorBuilder {
  return new dashboard.FieldColorBuilder().mode(mode);
}

/** Value-to-text mappings: each raw value's text, colour and order. */
export function valueMap(options: Record<string, dashboard.ValueMappingResult>): dashboard.ValueMapping {
  return { type: dashboard.MappingType.ValueToText, options };
}

/** The texts of `appcluster_server_online`. */
export const ONLINE: Record<string, dashboard.ValueMappingResult> = { '0': { text: 'Offline', color: 'red', index: 1 }, '1': { text: 'Online', color: 'green', index: 0 } };
/** The texts of `appcluster_component_up` and of Prometheus' `up`. */
export const UP: Record<string, dashboard.ValueMappingResult> = { '0': { text: 'Down', color: 'red', index: 1 }, '1': { text: 'Up', color: 'green', index: 0 } };
/** The texts of `appcluster_component_version_in_sync` and `appcluster_component_key_in_sync`. */
export const IN_SYNC: Record<string, dashboard.ValueMappingResult> = { '0': { text: '✗ differs', color: 'red', index: 1 }, '1': { text: '✓ in sync', color: 'green', index: 0 } };

/** Table cells whose text takes the mapped colour. */
export const COLOR_TEXT: common.TableCellOptions = { type: common.TableCellDisplayMode.ColorText };
/** Table cells filled with the mapped colour. */
export const COLOR_BACKGROUND: common.TableCellOptions = { type: common.TableCellDisplayMode.ColorBackground, mode: common.TableCellBackgroundDisplayMode.Basic };

/** A field override that maps a column's values to texts and colours them as `cellOptions` says. */
export function mappedCells(options: Record<string, dashboard.ValueMappingResult>, cellOptions: common.TableCellOptions): dashboard.DynamicConfigValue[] {
  return [{ id: 'mappings', value: [valueMap(options)] }, { id: 'custom.cellOptions', value: cellOptions }];
}

/** A full-width row, expanded, at grid row `y`. */
export function row(id: number, title: string, y: number): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title).id(id).collapsed(false).gridPos({ h: 1, w: 24, x: 0, y });
}

/** What every panel states for itself. */
export interface PanelOptions {
  /** Unique within the dashboard. */
  readonly id: number;
  readonly title: string;
  readonly description: string;
  readonly gridPos: dashboard.GridPos;
  /** A Grafana unit id: `none`, `s`, `ops`, `bytes`, `string`... */
  readonly unit: string;
}

/** The builder methods that set what every panel states for itself, as each panel type's builder has them. */
interface FieldPanelBuilder {
  id(id: number): this;
  title(title: string): this;
  description(description: string): this;
  datasource(datasource: common.DataSourceRef): this;
  gridPos(gridPos: dashboard.GridPos): this;
  unit(unit: string): this;
  colorScheme(color: cog.Builder<dashboard.FieldColor>): this;
  thresholds(thresholds: cog.Builder<dashboard.ThresholdsConfig>): this;
  mappings(mappings: dashboard.ValueMapping[]): this;
}

/** `b` with its id, title, description, the datasource variable, position, unit, colours, thresholds and mappings (if any). */
function fieldPanel<B extends FieldPanelBuilder>(
  b: B,
  o: PanelOptions,
  color: dashboard.FieldColorModeId,
  steps: dashboard.ThresholdsConfigBuilder,
  mappings?: dashboard.ValueMapping[],
): B {
  b.id(o.id)
    .title(o.title)
    .description(o.description)
    .datasource(DS)
    .gridPos(o.gridPos)
    .unit(o.unit)
    .colorScheme(colorScheme(color))
    .thresholds(steps);
  return mappings ? b.mappings(mappings) : b;
}

/** A stat panel's own settings. */
export interface StatOptions extends PanelOptions {
  /** Green throughout unless given. */
  readonly thresholds?: dashboard.ThresholdsConfigBuilder;
  /** Texts for values, such as `valueMap(UP)`. */
  readonly mappings?: dashboard.ValueMapping[];
  /** Colour the value (the default) or the whole background. */
  readonly colorMode?: common.BigValueColorMode;
}

/** A stat panel of the last non-null value of each series, coloured by thresholds, without a sparkline. */
export function statPanel(o: StatOptions): stat.PanelBuilder {
  return fieldPanel(new stat.PanelBuilder(), o, dashboard.FieldColorModeId.Thresholds, o.thresholds ?? thresholds(['green', null]), o.mappings)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false))
    .colorMode(o.colorMode ?? common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None)
    .justifyMode(common.BigValueJustifyMode.Auto)
    .orientation(common.VizOrientation.Auto)
    .textMode(common.BigValueTextMode.Auto)
    .wideLayout(true)
    .showPercentChange(false);
}

/** A table panel's own settings. */
export interface TableOptions extends PanelOptions {
  /** Shown instead of an empty table. */
  readonly noValue?: string;
  /** The column the table is sorted by (ascending) when it opens; unsorted unless given. */
  readonly sortBy?: string;
}

/** A filterable table without footer; the caller adds the column overrides, transformations and queries. */
export function tablePanel(o: TableOptions): table.PanelBuilder {
  const b = fieldPanel(new table.PanelBuilder(), o, dashboard.FieldColorModeId.Thresholds, thresholds(['green', null]));
  if (o.noValue !== undefined) b.noValue(o.noValue);
  return b
    .align(common.FieldTextAlignment.Auto)
    .cellOptions({ type: common.TableCellDisplayMode.Auto })
    .filterable(true)
    .inspect(false)
    .showHeader(true)
    .cellHeight(common.TableCellHeight.Sm)
    .sortBy(o.sortBy === undefined ? [] : [new common.TableSortByFieldStateBuilder().displayName(o.sortBy).desc(false)])
    .footer(new common.TableFooterOptionsBuilder().show(false).reducer(['sum']).countRows(false));
}

/** A state timeline panel's own settings. */
export interface StateTimelineOptions extends PanelOptions {
  /** The texts and colours of the states, such as `valueMap(ONLINE)`. */
  readonly mappings: dashboard.ValueMapping[];
}

/** A state timeline of mapped values, one lane per series, equal neighbouring values merged. */
export function stateTimelinePanel(o: StateTimelineOptions): statetimeline.PanelBuilder {
  return fieldPanel(new statetimeline.PanelBuilder(), o, dashboard.FieldColorModeId.Thresholds, thresholds(['text', null]), o.mappings)
    .fillOpacity(80)
    .lineWidth(0)
    .spanNulls(false)
    .insertNulls(false)
    .hideFrom(new common.HideSeriesConfigBuilder().legend(false).tooltip(false).viz(false))
    .mergeValues(true)
    .showValue(common.VisibilityMode.Auto)
    .alignValue(common.TimelineValueAlignment.Left)
    .rowHeight(0.9)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Single).sort(common.SortOrder.None));
}

/** A time series graph of lines from 0 up, in the classic palette, with every series in the tooltip. */
export function timeseriesPanel(o: PanelOptions): timeseries.PanelBuilder {
  return fieldPanel(new timeseries.PanelBuilder(), o, dashboard.FieldColorModeId.PaletteClassic, thresholds(['green', null]))
    .min(0)
    .drawStyle(common.GraphDrawStyle.Line)
    .lineInterpolation(common.LineInterpolation.Linear)
    .lineWidth(1)
    .fillOpacity(10)
    .gradientMode(common.GraphGradientMode.None)
    .showPoints(common.VisibilityMode.Never)
    .pointSize(4)
    .spanNulls(false)
    .axisPlacement(common.AxisPlacement.Auto)
    .axisSoftMin(0)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.None).group('A'))
    .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Off))
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom).calcs([]))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}
