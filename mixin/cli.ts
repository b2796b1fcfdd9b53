/**
 * `npm run generate:mixin [-- options]`: writes the generated files (mixin/generate.ts).
 *
 *   (no options)               the repository's own set, from mixin/config.yml
 *   --config FILE --out DIR    an operator's set from their configuration, into DIR
 *   --check                    write nothing; exit 1 naming each file that differs
 *   --merge-into FILE          print FILE (an Alertmanager configuration) with the snippet merged in
 *
 * Exits 1 with the file, line and field of a bad configuration.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { alertmanagerSnippet, mergeSnippet } from './alertmanager.js';
import { loadMixinConfig } from './config.js';
import { generate } from './generate.js';

// dist/mixin/cli.js or mixin/cli.ts: the repository root is two or one folders up.
const here = dirname(fileURLToPath(import.meta.url));
const root = existsSync(join(here, '..', 'package.json')) ? resolve(here, '..') : resolve(here, '..', '..');

function main(): number {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      check: { type: 'boolean', default: false },
      'merge-into': { type: 'string' },
    },
  });
  const configFile = resolve(values.config ?? join(root, 'mixin', 'config.yml'));
  const config = loadMixinConfig(configFile);
  if (values['merge-into']) {
    const existing = parse(readFileSync(values['merge-into'], 'utf8')) as Record<string, unknown>;
    process.stdout.write(stringify(mergeSnippet(existing, alertmanagerSnippet(config), 'templates/*.tmpl'), { lineWidth: 0 }));
    return 0;
  }
  const own = values.out === undefined;
  const out = resolve(values.out ?? root);
  const configName = own ? relative(root, configFile) : relative(process.cwd(), configFile);
  const files = generate({ config, configName, root, compose: own });
  const stale: string[] = [];
  for (const [path, text] of files) {
    const target = join(out, path);
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
    if (current === text) continue;
    if (values.check) {
      stale.push(path);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
  if (stale.length > 0) {
    process.stderr.write(`stale, run npm run generate:mixin: ${stale.join(', ')}\n`);
    return 1;
  }
  if (!values.check) process.stdout.write(`${files.size} files in ${relative(process.cwd(), out) || '.'}\n`);
  return 0;
}

try {
  process.exitCode = main();
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
