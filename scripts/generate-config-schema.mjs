#!/usr/bin/env node
// Writes config.schema.json from the configuration schema in src/config/schema.ts (built
// into dist/ first by `npm run generate:schema`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema } from '../dist/src/config/schema.js';

const out = join(import.meta.dirname, '..', 'config.schema.json');
writeFileSync(out, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out}`);
