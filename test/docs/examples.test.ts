/**
 * The configurations the README and the preset pages show are valid as written: each
 * YAML block that holds `clusters:` is loaded as the exporter loads a file, with the
 * secret files it names made beside it, so a page cannot show a field or a parameter the
 * exporter refuses.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

const root = resolve(import.meta.dirname, '../..');
const pages = ['README.md', ...readdirSync(join(root, 'docs/presets')).map((f) => `docs/presets/${f}`)];
const dir = mkdtempSync(join(tmpdir(), 'docs-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blocks = pages.flatMap((page) =>
  [...readFileSync(join(root, page), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1]!)
    .filter((yaml) => /^clusters:/m.test(yaml))
    .map((yaml, i) => [`${page} #${i + 1}`, yaml] as const),
);

describe('configurations shown in the docs', () => {
  it('are there to check: one per product at least', () => {
    for (const preset of ['securetransport', 'proget', 'etcd', 'patroni']) expect(blocks.some(([, y]) => y.includes(`preset: ${preset}`)), preset).toBe(true);
  });

  it.each(blocks)('%s loads', (_name, yaml) => {
    const file = join(dir, 'cluster.yml');
    // Relative secret files the block names, made as an administrator would.
    for (const m of yaml.matchAll(/\b\w+_file:\s*([\w.-]+)/g)) writeFileSync(join(dir, m[1]!), 'a-secret-of-the-test\n');
    const config = parseConfig(yaml, file);
    expect(config.clusters.length).toBeGreaterThan(0);
    for (const c of config.clusters) expect(c.servers.length).toBeGreaterThan(0);
  });
});
