/**
 * A configuration reference in Markdown, written from a JSON Schema that zod emits from the
 * schema the program validates with (`configJsonSchema`, `agentJsonSchema`): the
 * descriptions are the schema's own, so the reference, the editor schema and validation
 * cannot tell different stories.
 */

type Json = Record<string, unknown>;

/** The duration and size helpers of `config/yaml-schema.ts` mark their values with these patterns. */
const DURATION_PATTERN = '^([0-9]+(ms|s|m|h|d))+$';

/** One table of the reference: a mapping, where it sits in the file, and the mappings under it. */
interface Section {
  readonly path: string;
  readonly anchor: string;
  readonly description: string | undefined;
  readonly rows: string[];
  readonly children: Section[];
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Table cells hold one line; `|` would end the cell. */
const cell = (text: string): string => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

function properties(schema: Json): Json | undefined {
  return isObject(schema.properties) ? schema.properties : undefined;
}

/** A JSON path or `{header: NAME}`: what `source()` in config/schema.ts accepts. */
function isSource(alternatives: readonly Json[]): boolean {
  if (alternatives.length !== 2) return false;
  const [a, b] = alternatives;
  const header = b && properties(b);
  return a?.type === 'string' && header !== undefined && Object.keys(header).join() === 'header';
}

/** The schema without what does not change its shape: two fields of one shape share a table. */
function shapeKey(schema: Json): string {
  return JSON.stringify(schema, (key, value: unknown) => (key === 'description' ? undefined : value));
}

/**
 * Writes the reference: one table per mapping of the file, parents before their children,
 * each row a field with its type and its description from the schema.
 * @param title heading of the first table (the file's top level)
 */
export function schemaReference(schema: Json, title: string): string {
  const byShape = new Map<string, Section>();

  const anchorOf = (path: string): string =>
    `ref-${path.replace(/\[\]/g, '').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '').toLowerCase() || 'top'}`;

  /** The table of `object` at `path` under `parent`, or the one already written for the same shape. */
  function sectionFor(object: Json, path: string, description: string | undefined, parent: Section | undefined): Section {
    const key = shapeKey(object);
    const known = byShape.get(key);
    if (known) return known;
    const section: Section = { path, anchor: anchorOf(path), description, rows: [], children: [] };
    byShape.set(key, section);
    parent?.children.push(section);
    const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
    for (const [name, raw] of Object.entries(properties(object) ?? {})) {
      if (!isObject(raw)) continue;
      const type = typeOf(raw, path === '' ? name : `${path}.${name}`, section);
      const text = typeof raw.description === 'string' ? raw.description : '';
      const need = required.has(name) ? '**Required.**' : '';
      section.rows.push(`| \`${name}\` | ${cell(type)} | ${cell([need, text].filter(Boolean).join(' '))} |`);
    }
    return section;
  }

  /** The type column: a word for a value, a link for a mapping that has a table of its own. */
  function typeOf(s: Json, path: string, parent: Section): string {
    if (Array.isArray(s.anyOf)) {
      const alternatives = (s.anyOf as unknown[]).filter(isObject);
      if (isSource(alternatives)) return 'JSON path or `{header: NAME}`';
      return alternatives.map((a) => typeOf(a, path, parent)).join(' or ');
    }
    if (Array.isArray(s.enum)) return `one of ${(s.enum as unknown[]).map((v) => `\`${String(v)}\``).join(', ')}`;
    if (s.pattern === DURATION_PATTERN) return 'duration';
    if (Array.isArray(s.type) && s.type.includes('integer') && s.type.includes('string')) return 'size';
    if (s.type === 'array') {
      if (Array.isArray(s.prefixItems)) return `[${(s.prefixItems as unknown[]).filter(isObject).map((p) => typeOf(p, `${path}[]`, parent)).join(', ')}]`;
      return `list of ${isObject(s.items) ? typeOf(s.items, `${path}[]`, parent) : 'values'}`;
    }
    if (properties(s)) {
      const section = sectionFor(s, path, typeof s.description === 'string' ? s.description : undefined, parent);
      return `mapping: [\`${section.path}\`](#${section.anchor})`;
    }
    if (isObject(s.additionalProperties)) return `map of NAME to ${typeOf(s.additionalProperties, `${path}.NAME`, parent)}`;
    if (s.type === 'object') return 'mapping';
    if (s.type === 'string') return 'text';
    if (s.type === 'boolean') return 'boolean';
    if (s.type === 'number' || s.type === 'integer') return 'number';
    return 'any';
  }

  const out: string[] = [];
  // Each mapping is listed once, in the order a reader meets it: a parent, then its children.
  const write = (s: Section): void => {
    out.push(`<a id="${s.anchor}"></a>`, '', `### ${s.path === '' ? title : `\`${s.path}\``}`, '');
    if (s.description) out.push(s.description, '');
    out.push('| field | type | description |', '| --- | --- | --- |', ...s.rows, '');
    for (const c of s.children) write(c);
  };
  write(sectionFor(schema, '', undefined, undefined));
  return out.join('\n').trimEnd();
}
