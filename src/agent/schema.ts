import { z } from 'zod';
import { nonEmptyText, text } from '../config/yaml-schema.js';
import { factKinds, type FactKindName } from './facts/registry.js';
import { duration, mapping, size } from './fields.js';

/**
 * The agent's configuration file, declared once: validation and the published
 * `agent.schema.json` (for editors) come from here; each fact kind declares its own
 * settings in its file. What needs more than one field's value (reading the fingerprint
 * secret, facts that need it) is checked in `config.ts`.
 *
 *   min_interval: 5s                    # facts are read at most this often (default 5s)
 *   read_timeout: 10s                   # longest one fact may take (default 10s)
 *   file_size_limit: 1MiB               # most bytes read from one file (default 1MiB)
 *   fingerprint_secret_file: secret     # HMAC key, the same on every node (or fingerprint_secret_env)
 *   facts:
 *     NAME: { KIND: { settings } }      # in the order served
 */

/** Fact names are JSON path segments for the exporter (`facts.NAME.field`). */
const FACT_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const factName = () =>
  text()
    .refine((v) => FACT_NAME.test(v), { error: (iss) => `fact name "${String(iss.input)}" must match [a-zA-Z_][a-zA-Z0-9_]*` })
    .meta({ pattern: FACT_NAME.source });

export const KIND_NAMES = Object.keys(factKinds);

const kindFields = Object.fromEntries(Object.entries(factKinds).map(([name, kind]) => [name, mapping(kind.schema).optional()])) as {
  [K in FactKindName]: z.ZodOptional<z.ZodPreprocess<(typeof factKinds)[K]['schema']>>;
};

/** One fact: a mapping with exactly one fact kind. */
const fact = z
  .strictObject(kindFields)
  .check((ctx) => {
    if (Object.values(ctx.value).filter((v) => v !== undefined).length !== 1) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `must hold exactly one fact kind (${KIND_NAMES.join(', ')})` });
    }
  })
  .meta({ minProperties: 1, maxProperties: 1 });

const file = z.strictObject({
  min_interval: duration(3_600_000)
    .meta({ description: 'Facts are read at most this often; answers in between share the last reading. Default 5s.' })
    .optional(),
  read_timeout: duration(300_000)
    .meta({ description: 'Longest one fact may take; a fact not read by then is the error "timeout". Default 10s.' })
    .optional(),
  file_size_limit: size().meta({ description: 'Most bytes read from one file. Default 1MiB.' }).optional(),
  fingerprint_secret_file: nonEmptyText()
    .meta({ description: 'The HMAC key of fingerprints (at least 16 characters), the same on every node; relative to this file.' })
    .optional(),
  fingerprint_secret_env: nonEmptyText().meta({ description: 'An environment variable holding the HMAC key of fingerprints.' }).optional(),
  facts: z
    .record(factName(), mapping(fact))
    .refine((facts) => Object.keys(facts).length > 0, { error: 'must list at least one fact' })
    .meta({ description: 'The facts served, by name, in this order; each holds one fact kind.', minProperties: 1 }),
});

/** The whole agent configuration file. */
export const agentSchema = mapping(file);
export type AgentSettings = z.output<typeof agentSchema>;

/**
 * The agent configuration's JSON Schema (draft 2020-12), for editors (the modeline
 * `# yaml-language-server: $schema=...`). Published as `agent.schema.json`
 * (scripts/generate-agent-schema.mjs); a test keeps the two equal.
 */
export function agentJsonSchema(): Record<string, unknown> {
  return {
    title: 'appcluster-exporter agent configuration',
    ...z.toJSONSchema(agentSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
