/**
 * The generated parts of docs/ (configuration and agent references, metrics, what each
 * preset reads) match the code they are written from: regenerated in memory and compared
 * with the committed pages, so a schema description, a metric or a preset changed without
 * `npm run generate:docs` fails here.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, PRESET_NAMES } from '../../src/config/schema.js';
import { agentJsonSchema } from '../../src/agent/schema.js';
import { allMetricSpecs } from '../../src/metrics/catalogue.js';
import { probeReasons } from '../../src/reasons.js';
import { GENERATED_PAGES, regeneratePage } from '../../src/docs/generate.js';

const root = resolve(import.meta.dirname, '../..');
const read = (page: string): string => readFileSync(join(root, page), 'utf8');

/** Every field name a JSON Schema declares, at any depth. */
function fieldNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const s of schema) fieldNames(s, out);
  else if (typeof schema === 'object' && schema !== null) {
    const o = schema as Record<string, unknown>;
    if (typeof o.properties === 'object' && o.properties !== null) for (const k of Object.keys(o.properties)) out.add(k);
    for (const v of Object.values(o)) fieldNames(v, out);
  }
  return out;
}

describe('docs/ generated parts', () => {
  it.each(GENERATED_PAGES.map((p) => [p]))('%s is current (npm run generate:docs)', (page) => {
    expect(read(page)).toBe(regeneratePage(root, page));
  });

  it('the configuration reference lists every field of the schema, with its description', () => {
    const page = read('docs/configuration.md');
    for (const name of fieldNames(configJsonSchema())) expect(page, name).toContain(`| \`${name}\` |`);
    expect(page).toContain('| `body_size_limit` | size | Most bytes of the decoded body; a larger body fails with body_too_large. Default 1MiB. |');
  });

  it("the agent's reference lists every field of its schema", () => {
    const page = read('docs/agent.md');
    for (const name of fieldNames(agentJsonSchema())) expect(page, name).toContain(`| \`${name}\` |`);
  });

  it('the metrics reference lists every metric of the catalogue with its help, and every failure reason', () => {
    const page = read('docs/metrics.md');
    for (const m of allMetricSpecs) expect(page).toContain(`| \`${m.name}\` | ${m.type} | ${m.labels.join(', ')} | ${m.help} |`);
    for (const r of probeReasons) expect(page).toContain(`\`${r}\``);
    expect(page).toContain('| `agent_fact_reads_total` | counter | fact, result |');
  });

  it.each(PRESET_NAMES.map((n) => [n]))('docs/presets/%s.md names every component and parameter of the preset', (name) => {
    const page = read(`docs/presets/${name}.md`);
    const preset = parse(read(`presets/${name}.yml`)) as { components: { name: string }[]; parameters?: Record<string, unknown> };
    for (const c of preset.components) expect(page).toContain(`| \`${c.name}\` |`);
    for (const p of Object.keys(preset.parameters ?? {})) expect(page).toContain(`| \`${p}\` |`);
  });

  it('a stale part is written afresh, and the text around it is kept', () => {
    const page = 'docs/metrics.md';
    const current = read(page);
    const stale = current.replace('| `appcluster_component_up` | gauge |', '| `appcluster_component_up` | counter |').replace('# Metrics', '# Metrics (edited by hand)');
    expect(stale).not.toBe(current);
    const again = regeneratePage(root, page, stale);
    expect(again).toContain('| `appcluster_component_up` | gauge |');
    expect(again).not.toContain('| `appcluster_component_up` | counter |');
    expect(again).toContain('# Metrics (edited by hand)');
  });

  it('a page without the markers of a part is refused, not written', () => {
    expect(() => regeneratePage(root, 'docs/metrics.md', '# Metrics\n')).toThrow(/docs\/metrics\.md: needs one "<!-- generated:cluster-metrics/);
  });
});
