#!/usr/bin/env node
// Writes the generated parts of docs/ (configuration and agent references, metrics, what
// each preset reads) from the code, built into dist/ first by `npm run generate:docs`.
// The text around each part is kept; a test fails while a page is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_PAGES, regeneratePage } from '../dist/src/docs/generate.js';

const root = join(import.meta.dirname, '..');
for (const page of GENERATED_PAGES) {
  const file = join(root, page);
  const before = readFileSync(file, 'utf8');
  const after = regeneratePage(root, page, before);
  if (after !== before) writeFileSync(file, after);
  console.log(`${after === before ? 'unchanged' : 'wrote'} ${page}`);
}
