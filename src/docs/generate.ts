import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentJsonSchema } from '../agent/schema.js';
import { AgentMetrics } from '../agent/metrics.js';
import { configJsonSchema, PRESET_NAMES } from '../config/schema.js';
import { clusterMetrics, exporterMetrics, type MetricSpec } from '../metrics/catalogue.js';
import { probeReasons } from '../reasons.js';
import { presetReference } from './preset-reference.js';
import { schemaReference } from './schema-reference.js';

/**
 * The parts of docs/ that are written from the code (`npm run generate:docs`): the
 * configuration references from the schemas, the metrics reference from the catalogue, and
 * what each preset reads from its file. Each part sits between two markers in a page whose
 * other text is written by hand; a test regenerates every part and compares.
 */

/** One generated part: its name in the markers and what it is written from. */
interface Part {
  readonly name: string;
  readonly source: string;
  readonly render: (root: string) => string;
}

const metricRows = (specs: readonly MetricSpec[]): string[] => [
  '| metric | type | labels | help |',
  '| --- | --- | --- | --- |',
  ...specs.map((m) => `| \`${m.name}\` | ${m.type} | ${m.labels.join(', ')} | ${m.help} |`),
];

function agentMetricRows(): string[] {
  const registry = new AgentMetrics([], false).registry;
  // prom-client's metric objects carry their label names, though its typings leave them out.
  const metrics = registry.getMetricsAsArray() as unknown as readonly { name: string; help: string; type: string; labelNames: readonly string[] }[];
  return [
    '| metric | type | labels | help |',
    '| --- | --- | --- | --- |',
    ...[...metrics].sort((a, b) => a.name.localeCompare(b.name)).map((m) => `| \`${m.name}\` | ${m.type} | ${m.labelNames.join(', ')} | ${m.help} |`),
  ];
}

const PARTS: Readonly<Record<string, readonly Part[]>> = {
  'docs/configuration.md': [
    {
      name: 'config-reference',
      source: 'src/config/schema.ts',
      render: () => schemaReference(configJsonSchema(), 'The file'),
    },
  ],
  'docs/agent.md': [
    {
      name: 'agent-config-reference',
      source: 'src/agent/schema.ts',
      render: () => schemaReference(agentJsonSchema(), 'The file'),
    },
  ],
  'docs/metrics.md': [
    { name: 'cluster-metrics', source: 'src/metrics/catalogue.ts', render: () => metricRows(Object.values(clusterMetrics)).join('\n') },
    { name: 'exporter-metrics', source: 'src/metrics/catalogue.ts', render: () => metricRows(Object.values(exporterMetrics)).join('\n') },
    { name: 'probe-reasons', source: 'src/reasons.ts', render: () => probeReasons.map((r) => `\`${r}\``).join(', ') + '.' },
    { name: 'agent-metrics', source: 'src/agent/metrics.ts', render: () => agentMetricRows().join('\n') },
  ],
  ...Object.fromEntries(
    PRESET_NAMES.map((name) => [
      `docs/presets/${name}.md`,
      [{ name: 'preset', source: `presets/${name}.yml`, render: (root: string) => presetReference(readFileSync(join(root, 'presets', `${name}.yml`), 'utf8')) }],
    ]),
  ),
};

/** The pages that hold generated parts, relative to the repository root. */
export const GENERATED_PAGES: readonly string[] = Object.keys(PARTS);

const begin = (p: Part): string => `<!-- generated:${p.name} from ${p.source} by \`npm run generate:docs\`; edit the source, not this part -->`;
const end = (p: Part): string => `<!-- end generated:${p.name} -->`;

/**
 * The page `file` (relative to `root`) with every generated part written afresh from the
 * code; the text around the parts is kept as it is.
 * @throws Error when the page lacks a part's markers, or holds them more than once
 */
export function regeneratePage(root: string, file: string, text = readFileSync(join(root, file), 'utf8')): string {
  let out = text;
  for (const part of PARTS[file] ?? []) {
    const open = new RegExp(`<!-- generated:${part.name} [^\\n]*-->\\n`, 'g');
    const close = end(part);
    const starts = [...out.matchAll(open)];
    if (starts.length !== 1 || out.split(close).length !== 2) throw new Error(`${file}: needs one "<!-- generated:${part.name} ... -->" and one "${close}"`);
    const from = starts[0]!.index;
    const to = out.indexOf(close);
    if (to < from) throw new Error(`${file}: "${close}" comes before its start`);
    out = `${out.slice(0, from)}${begin(part)}\n${part.render(root)}\n${out.slice(to)}`;
  }
  return out;
}
