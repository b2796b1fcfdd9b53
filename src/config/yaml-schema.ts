import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { ConfigError, ConfigErrors } from './errors.js';
import { formatDuration, parseDuration, parseSize } from './units.js';

/**
 * A plain YAML scalar that YAML 1.2 types as something other than text (`3.10`, `true`,
 * `0x10`, `~`), kept with the characters written in the file: text fields take `source`,
 * number and boolean fields take `value`.
 */
export class PlainScalar {
  constructor(
    readonly value: number | boolean | null | bigint,
    readonly source: string,
  ) {}
}

/** A position in a document: mapping keys and list indexes. */
export type Path = readonly PropertyKey[];

/** A parsed YAML file with what its errors need: line positions and the node tree. */
export interface YamlFile {
  readonly file: string;
  readonly text: string;
  /** The document as data: mappings, lists, strings and `PlainScalar`s; undefined when empty. */
  readonly value: unknown;
  /**
   * An error at `path`: names the file, line and column of the deepest node on the path
   * that exists, and the path in `a.b[0].c` form. `atKey` points at a mapping key rather
   * than its value (an unknown field).
   */
  error(path: Path, message: string, atKey?: boolean): ConfigError;
  /** Whether the file holds a node at exactly `path` (an empty value counts). */
  has(path: Path): boolean;
}

/** Reads a file's text; a missing or unreadable file is a ConfigError. */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, 0, 0, '', `cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Parses YAML text. Syntax errors and duplicate keys are ConfigErrors with line and column.
 * @throws ConfigError
 */
export function parseYamlFile(text: string, file: string): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = lines.linePos(yamlError.pos[0]);
    throw new ConfigError(file, pos.line, pos.col, '', `YAML: ${yamlError.message.split('\n')[0]}`);
  }
  const root = doc.contents as Node | null;
  // zod drops a "__proto__" key of a record without a word; no configuration needs one.
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && keyText(pair.key) === '__proto__') {
        const pos = lines.linePos(pair.key.range?.[0] ?? 0);
        throw new ConfigError(file, pos.line, pos.col, '', 'a key named "__proto__" is not allowed');
      }
    },
  });
  let value: unknown;
  try {
    value = root === null ? undefined : toData(root, doc, 0, { left: MAX_ALIAS_VALUES, anchors: new Map() });
  } catch (err) {
    if (!(err instanceof AliasBomb)) throw err;
    throw new ConfigError(file, 1, 1, '', `YAML: aliases expand to more than ${MAX_ALIAS_VALUES} values`);
  }
  return {
    file,
    text,
    value,
    error(path, message, atKey = false) {
      const node = nodeAt(doc, root, path, atKey).node;
      const pos = lines.linePos(node?.range?.[0] ?? 0);
      return new ConfigError(file, pos.line, pos.col, formatPath(path), message);
    },
    has: (path) => nodeAt(doc, root, path, false).whole,
  };
}

/** A path as the errors show it: `clusters[0].servers[1].role`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

// Aliases may nest, but a document is finite: the depth bound stops an alias loop.
const MAX_DEPTH = 64;
/**
 * Values that aliases may add to a document. Aliases of aliases grow exponentially ("a
 * billion laughs": nine lines expand to 10^9 values), so their expansion is bounded; a
 * real configuration that reuses anchors across thousands of servers stays far below.
 */
export const MAX_ALIAS_VALUES = 10_000;

/** Raised inside toData when aliases expand past MAX_ALIAS_VALUES. */
class AliasBomb extends Error {}

interface Walk {
  /** Alias values still allowed (MAX_ALIAS_VALUES). */
  left: number;
  /** Each alias resolved once: `Alias.resolve` searches the whole document every time. */
  readonly anchors: Map<Node, Node | undefined>;
}

function toData(node: Node | null | undefined, doc: Document, depth: number, walk: Walk, viaAlias = false): unknown {
  if (depth > MAX_DEPTH) return undefined;
  if (viaAlias && --walk.left < 0) throw new AliasBomb();
  if (isAlias(node)) {
    let target = walk.anchors.get(node);
    if (target === undefined && !walk.anchors.has(node)) {
      target = node.resolve(doc) as Node | undefined;
      walk.anchors.set(node, target);
    }
    return toData(target, doc, depth + 1, walk, true);
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      // defineProperty: a key "__proto__" is data here, never the object's prototype
      // (parseYamlFile refuses the key; this keeps it harmless until then).
      Object.defineProperty(out, keyText(pair.key), {
        value: toData(pair.value as Node | null, doc, depth + 1, walk, viaAlias),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  if (isSeq(node)) return node.items.map((item) => toData(item as Node, doc, depth + 1, walk, viaAlias));
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') return v;
    if (node.type === 'PLAIN' && node.source === '') return undefined;
    const source = typeof node.source === 'string' ? node.source : String(v);
    return new PlainScalar(v as PlainScalar['value'], source);
  }
  return undefined;
}

/** A mapping key as written: `1.10:` is the key "1.10", not 1.1. */
function keyText(key: unknown): string {
  if (!isScalar(key)) return String(key);
  if (typeof key.value === 'string') return key.value;
  return typeof key.source === 'string' ? key.source : String(key.value);
}

/** The deepest node on `path` that exists, and whether that is the whole path. */
function nodeAt(doc: Document, root: Node | null, path: Path, atKey: boolean): { node: Node | undefined; whole: boolean } {
  let node: Node | undefined = root ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const resolved: unknown = isAlias(node) ? node.resolve(doc) : node;
    let next: Node | undefined;
    if (isMap(resolved)) {
      const pair = resolved.items.find((p) => keyText(p.key) === String(seg));
      if (pair && atKey && i === path.length - 1 && isPair(pair)) return { node: pair.key as Node, whole: true };
      next = (pair?.value ?? undefined) as Node | undefined;
    } else if (isSeq(resolved) && typeof seg === 'number') {
      next = resolved.items[seg] as Node | undefined;
    }
    if (!next) return { node, whole: false };
    node = next;
  }
  return { node, whole: node !== undefined };
}

// ---------------------------------------------------------------------------------------
// Schema building blocks. Every scalar field of a schema is one of these, so the rule
// "text is taken as written" holds everywhere at once.

const asText = (v: unknown): unknown => (v instanceof PlainScalar ? v.source : v);
const asValue = (v: unknown): unknown => (v instanceof PlainScalar ? (v.value === null ? undefined : v.value) : v);

/** A text field: any scalar, taken as written in the file. */
export const text = () => z.preprocess(asText, z.string());

/** A text field that must not be empty. */
export const nonEmptyText = () => z.preprocess(asText, z.string().min(1, { error: 'must not be empty' }));

/** A text field that must be one of `values` (editors offer them). */
export const textEnum = <const T extends readonly [string, ...string[]]>(values: T) => z.preprocess(asText, z.enum(values));

/** A number field. */
export const number = () => z.preprocess(asValue, z.number());

/** A boolean field (`true` or `false`). */
export const boolean = () => z.preprocess(asValue, z.boolean());

/** A duration such as `500ms`, `15s`, `1h30m`, in milliseconds, above zero and at most `maxMs`. */
export const duration = (maxMs = Number.MAX_SAFE_INTEGER) =>
  text()
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `must be a duration such as 500ms, 15s, 5m or 24h, got "${v}"` });
        return z.NEVER;
      }
      if (ms <= 0) ctx.addIssue({ code: 'custom', message: 'must be greater than zero' });
      else if (ms > maxMs) ctx.addIssue({ code: 'custom', message: `must be at most ${maxMs}ms` });
      return ms;
    })
    .meta({
      description: `A duration: 500ms, 15s, 5m, 24h, 1h30m${maxMs < Number.MAX_SAFE_INTEGER ? `; at most ${formatDuration(maxMs)}` : ''}.`,
      pattern: '^([0-9]+(ms|s|m|h|d))+$',
    });

/** A byte size such as `1MiB`, `512KB` or `1000`, in bytes, above zero. */
export const size = () =>
  text()
    .transform((v, ctx) => {
      const bytes = parseSize(v);
      if (bytes === undefined || !Number.isSafeInteger(bytes)) {
        ctx.addIssue({ code: 'custom', message: `must be a size such as 1MiB, 512KiB or 1000, got "${v}"` });
        return z.NEVER;
      }
      if (bytes <= 0) ctx.addIssue({ code: 'custom', message: 'must be greater than zero' });
      return bytes;
    })
    // A plain `1000` is an integer to YAML, and editors check it as one.
    .meta({ description: 'A size in bytes: 1000, 512KiB, 1MiB.', type: ['string', 'integer'], pattern: '^[0-9]+\\s*(B|KB|MB|GB|KiB|MiB|GiB)?$' });

/** An integer from `min` to `max`; `what` names it in the error (`a port number`). */
export const integer = (min: number, max: number, what: string) =>
  number().refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: `must be ${what} (${min}-${max})` });

/** Whether a parsed value is a YAML mapping. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof PlainScalar);
}

// ---------------------------------------------------------------------------------------
// Validation with errors that name file, line, column and path.

export interface ValidateOptions {
  /** A message for a field the schema does not know, instead of `unknown field "x"`. */
  readonly unknownField?: (key: string, path: Path) => string | undefined;
}

/**
 * Validates a parsed file against a schema. Every problem is reported at once: unknown
 * fields first (a misspelt name also makes its field "missing"), then in the order of the
 * file, so fixing a file top to bottom meets its errors in order.
 * @throws ConfigError naming file, line, column, path and what is wrong (a ConfigErrors
 * listing each, for more than one).
 */
export function validate<S extends z.ZodType>(yaml: YamlFile, schema: S, opts: ValidateOptions = {}): z.output<S> {
  const result = schema.safeParse(yaml.value, { reportInput: true });
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) =>
    toErrors(yaml, issue, opts).map((error) => ({ error, unknown: issue.code === 'unrecognized_keys' })),
  );
  errors.sort((a, b) => Number(b.unknown) - Number(a.unknown) || a.error.line - b.error.line || a.error.column - b.error.column);
  if (errors.length === 0) throw yaml.error([], 'invalid configuration');
  throw errors.length === 1 ? errors[0]!.error : new ConfigErrors(errors.map((e) => e.error));
}

function toErrors(yaml: YamlFile, issue: z.core.$ZodIssue, opts: ValidateOptions): ConfigError[] {
  const path = issue.path;
  switch (issue.code) {
    case 'unrecognized_keys':
      // zod takes the object that wraps a plain scalar (`tcp: 80`) for a mapping.
      if (issue.input instanceof PlainScalar) return [yaml.error(path, `must be a mapping, got ${describe(issue.input)}`)];
      return issue.keys.map((key) => {
        const keyPath = [...path, key];
        return yaml.error(keyPath, opts.unknownField?.(key, keyPath) ?? `unknown field "${key}"`, true);
      });
    case 'invalid_type': {
      if (issue.input === undefined && path.length > 0) {
        return [yaml.error(path.slice(0, -1), `missing required field "${String(path[path.length - 1])}"`)];
      }
      return [yaml.error(path, `must be ${describeType(issue.expected)}, got ${describe(issue.input)}`)];
    }
    case 'invalid_value':
      return [yaml.error(path, `must be one of ${issue.values.map(String).join(', ')}, got ${describe(issue.input)}`)];
    case 'invalid_union': {
      // A branch that took the value's type (a text that is not a valid path) says what is
      // wrong with it; when none did, the union's own message says what would be.
      const fitting = issue.errors.find((list) => list.length > 0 && !list.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (fitting) return fitting.flatMap((inner) => toErrors(yaml, { ...inner, path: [...path, ...inner.path] } as z.core.$ZodIssue, opts));
      return [yaml.error(path, issue.message)];
    }
    case 'invalid_key':
      // A record key that its schema refused: point at the key, with the key schema's words.
      return issue.issues.map((inner) => yaml.error(path, inner.message, true));
    default:
      return [yaml.error(path, issue.message)];
  }
}

function describeType(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string';
    case 'number':
    case 'int':
      return 'a number';
    case 'boolean':
      return 'true or false';
    case 'object':
    case 'record':
      return 'a mapping';
    case 'array':
      return 'a list';
    default:
      return expected;
  }
}

/** A value quoted in an error, shortened: errors go to logs and reload answers. */
export function describe(v: unknown): string {
  const x = v instanceof PlainScalar ? v.source : v;
  let out: string;
  if (typeof x === 'string') out = `"${x}"`;
  else if (Array.isArray(x)) out = 'a list';
  else if (isRecord(x)) out = 'a mapping';
  else out = `${typeof (v instanceof PlainScalar ? v.value : x)} ${String(x)}`;
  return out.length > 80 ? `${out.slice(0, 77)}...` : out;
}
