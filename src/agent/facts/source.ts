import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parse as parseIni } from 'ini';
import { parse as parseYamlText } from 'yaml';
import { z } from 'zod';
import { parseJsonPath } from '../../config/json-path.js';
import { nonEmptyText } from '../../config/yaml-schema.js';
import { decodeText, readBounded } from './read-file.js';
import { FactError, type FactContext } from './types.js';

/**
 * How a value is picked out of a file's text. `xml`, `json`, `yaml` and `ini` take a path
 * in the exporter's JSON path syntax (`InedoAppConfig.EncryptionKey`, `product.version`,
 * `server["version.full"]`, `items[0]`); `dotenv` a variable name; `regex` a regular
 * expression whose first group (or whole match) is the value.
 */
export type Selector =
  | { readonly format: 'xml' | 'json' | 'yaml' | 'ini'; readonly path: readonly (string | number)[]; readonly shown: string }
  | { readonly format: 'dotenv'; readonly key: string }
  | { readonly format: 'regex'; readonly regex: RegExp };

/**
 * Where a value comes from: a file (whole, or a selected value) or the agent's
 * environment. `file` as configured: relative to the configuration's directory.
 */
export type Source =
  | { readonly file: string; readonly selector?: Selector }
  | { readonly env: string };

const SELECTORS = ['xml', 'json', 'yaml', 'ini', 'dotenv', 'regex'] as const;

const fileFields = {
  file: nonEmptyText().meta({ description: 'A file, relative to this configuration file.' }).optional(),
  xml: nonEmptyText().meta({ description: 'A path to an element or attribute ("@name"): InedoAppConfig.EncryptionKey.' }).optional(),
  json: nonEmptyText().meta({ description: 'A JSON path: product.version, items[0], ["a.b"].' }).optional(),
  yaml: nonEmptyText().meta({ description: 'A path in a YAML file, every value as written: product.version.' }).optional(),
  ini: nonEmptyText().meta({ description: 'A path in an INI file: section.key.' }).optional(),
  dotenv: nonEmptyText().meta({ description: 'A variable of a .env file.' }).optional(),
  regex: nonEmptyText().meta({ description: 'A regular expression (multi-line); its first group, or the whole match, is the value.' }).optional(),
};

type SourceInput = { readonly [K in 'file' | 'env' | (typeof SELECTORS)[number]]?: string };

/**
 * The settings that name a source: `file` (relative to the configuration) with at most one
 * selector, or `env`. `whole` allows a file without a selector (a key file); `env` allows
 * an environment variable.
 */
export function sourceSchema(allow: { readonly whole: boolean; readonly env: boolean }) {
  const schema = allow.env
    ? z.strictObject({ ...fileFields, env: nonEmptyText().meta({ description: 'An environment variable of the agent.' }).optional() })
    : z.strictObject(fileFields);
  return schema.transform((s: SourceInput, ctx): Source => {
    const issue = (path: string[], message: string): never => {
      ctx.addIssue({ code: 'custom', input: s, path, message });
      return z.NEVER;
    };
    const given = SELECTORS.filter((k) => s[k] !== undefined);
    if (given.length > 1) return issue([given[1]!], `set one of ${SELECTORS.join(', ')}, not ${given.join(' and ')}`);
    if (s.env !== undefined) {
      if (s.file !== undefined) return issue(['env'], 'set file or env, not both');
      if (given[0] !== undefined) return issue([given[0]], 'applies to a file, not to env');
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(s.env)) return issue(['env'], 'must be an environment variable name');
      return { env: s.env };
    }
    if (s.file === undefined) return issue([], allow.env ? 'needs "file" or "env"' : 'needs "file"');
    const format = given[0];
    if (format === undefined) {
      if (!allow.whole) return issue([], `needs one of ${SELECTORS.join(', ')} to pick the value out of the file`);
      return { file: s.file };
    }
    const text = s[format]!;
    if (format === 'dotenv') return { file: s.file, selector: { format, key: text } };
    if (format === 'regex') {
      try {
        return { file: s.file, selector: { format, regex: new RegExp(text, 'm') } };
      } catch {
        return issue([format], 'is not a valid regular expression');
      }
    }
    const path = parseJsonPath(text);
    if (!path) return issue([format], `"${text}" is not a path (examples: InedoAppConfig.EncryptionKey, product.version, items[0])`);
    return { file: s.file, selector: { format, path, shown: text } };
  });
}

// Every value stays text: a key of hex digits is not a number, and `3.10` is not 3.1.
const xml = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

/**
 * Reads a source: the whole file as bytes, or the selected value as text.
 * @throws FactError when the file cannot be read or parsed, or the value is not there.
 */
export async function readSource(source: Source, ctx: FactContext): Promise<string | Buffer> {
  if ('env' in source) {
    const value = process.env[source.env];
    // The variable's name is not repeated: a value pasted in its place must not be published.
    if (value === undefined || value === '') throw new FactError('missing', 'the environment variable is not set');
    return value;
  }
  const bytes = await readBounded(resolve(ctx.baseDir, source.file), ctx.fileSizeLimit);
  if (!source.selector) {
    if (bytes.length === 0) throw new FactError('missing', 'the file is empty');
    return bytes;
  }
  return select(decodeText(bytes), source.selector);
}

/** Picks a value out of a file's text. Exported for tests. @throws FactError */
export function select(text: string, s: Selector): string {
  switch (s.format) {
    case 'regex': {
      const m = s.regex.exec(text);
      return nonEmpty(m ? (m[1] ?? m[0]) : undefined, 'the regular expression does not match');
    }
    case 'dotenv':
      return nonEmpty(parseEnv(text)[s.key], `no variable ${s.key}`);
    case 'xml': {
      const valid = XMLValidator.validate(text);
      // The validator's message may quote the file; only the line is passed on.
      if (valid !== true) throw new FactError('malformed', `not well-formed XML (line ${valid.err.line})`);
      return pick(xml.parse(text) as unknown, s.path, s.shown, 'XML');
    }
    case 'json': {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch {
        throw new FactError('malformed', 'not valid JSON');
      }
      return pick(doc, s.path, s.shown, 'JSON');
    }
    case 'yaml': {
      let doc: unknown;
      try {
        // The failsafe schema keeps every scalar as written.
        doc = parseYamlText(text, { schema: 'failsafe' });
      } catch {
        throw new FactError('malformed', 'not valid YAML');
      }
      return pick(doc, s.path, s.shown, 'YAML');
    }
    case 'ini':
      return pick(parseIni(text), s.path, s.shown, 'INI file');
  }
}

function pick(doc: unknown, path: readonly (string | number)[], shown: string, what: string): string {
  let cur = doc;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, seg)) throw new FactError('missing', `no ${shown} in the ${what}`);
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  // An element with attributes keeps its text under `#text`.
  if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, '#text')) {
    cur = (cur as Record<string, unknown>)['#text'];
  }
  if (Array.isArray(cur)) throw new FactError('not_text', `${shown} is a list of ${cur.length}; pick one with [index]`);
  if (cur !== null && typeof cur === 'object') {
    // An empty element (`<EncryptionKey/>`) parses as an empty object or string.
    if (Object.keys(cur).length === 0) throw new FactError('missing', `${shown} is empty`);
    throw new FactError('not_text', `${shown} holds more than one value`);
  }
  return nonEmpty(cur === null || cur === undefined ? undefined : String(cur), `${shown} is empty`);
}

function nonEmpty(value: string | undefined, detail: string): string {
  if (value === undefined || value.trim() === '') throw new FactError('missing', detail);
  return value;
}
