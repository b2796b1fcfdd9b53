#!/usr/bin/env node
// Writes agent.schema.json from the agent configuration schema in src/agent/schema.ts
// (built into dist/ first: npm run build).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentJsonSchema } from '../dist/src/agent/schema.js';

const out = join(import.meta.dirname, '..', 'agent.schema.json');
writeFileSync(out, `${JSON.stringify(agentJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out}`);
