import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Scalar, type YAMLMap } from 'yaml';
import { ConfigError } from './errors.js';
import { parseDuration, parseSize } from './units.js';

interface Source {
  readonly file: string;
  readonly lines: LineCounter;
  /** Resolves aliases (`*name`) to the anchored node. */
  readonly doc: Document;
}

/**
 * A typed, strict view of one YAML mapping. Every accessor records the key it read, so
 * `finish()` can reject keys nobody asked for; every error names file, line, column and
 * the YAML path.
 */
export class MapReader {
  private readonly used = new Set<string>();

  constructor(
    private readonly source: Source,
    private readonly node: YAMLMap,
    readonly path: string,
  ) {}

  static root(source: Source, node: Node | null | undefined, path = ''): MapReader {
    if (!isMap(node)) throw errorAt(source, node ?? undefined, path || '(document)', 'must be a mapping');
    return new MapReader(source, node, path);
  }

  isMapping(key: string): boolean {
    return isMap(this.valueNode(key));
  }

  has(key: string): boolean {
    return this.pair(key) !== undefined;
  }

  /** Keys present in this mapping, in document order, as written (a key `1.10` is "1.10"). */
  keys(): string[] {
    return this.node.items.map((pair) => keyText(pair.key));
  }

  child(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  /** An error at `key` (or at this mapping), for the caller to throw. */
  error(key: string | undefined, message: string): ConfigError {
    const target = key === undefined ? this.node : (this.valueNode(key) ?? this.node);
    return errorAt(this.source, target, key === undefined ? this.path : this.child(key), message);
  }

  /**
   * A text field. A plain scalar is taken exactly as written in the file (`3.10` is "3.10",
   * not the number 3.1; `true`, `0x10`, `08`, `null` and `~` stay as written); only an empty
   * value (`key:`) leaves the field unset.
   */
  string(key: string): string | undefined {
    const node = this.take(key);
    if (node === undefined) return undefined;
    if (!isScalar(node)) throw this.error(key, 'must be a single value, not a list or mapping');
    return scalarText(node);
  }

  /** A list of text values, each taken as written (see `string`). */
  textList(key: string): string[] | undefined {
    const node = this.take(key);
    if (node === undefined || isNullNode(node)) return undefined;
    if (!isSeq(node)) throw this.error(key, 'must be a list');
    return node.items.map((raw, i) => {
      const item = this.resolve(raw as Node);
      const text = isScalar(item) ? scalarText(item) : undefined;
      if (text === undefined) throw errorAt(this.source, item as Node, `${this.child(key)}[${i}]`, 'must be a single value');
      return text;
    });
  }

  requiredString(key: string): string {
    const v = this.string(key);
    if (v === undefined) throw this.error(undefined, `missing required field "${key}"`);
    if (v === '') throw this.error(key, 'must not be empty');
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const v = this.string(key);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) {
      throw this.error(key, `must be one of ${allowed.join(', ')}, got "${v}"`);
    }
    return v as T;
  }

  boolean(key: string): boolean | undefined {
    const v = this.scalar(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw this.error(key, `must be true or false, got ${describe(v)}`);
    return v;
  }

  number(key: string): number | undefined {
    const v = this.scalar(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.error(key, `must be a number, got ${describe(v)}`);
    return v;
  }

  /** A duration in milliseconds; must be positive, and at most `maxMs`. */
  duration(key: string, maxMs = Number.MAX_SAFE_INTEGER): number | undefined {
    const v = this.scalar(key);
    if (v === undefined) return undefined;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) throw this.error(key, `must be a duration such as 500ms, 15s, 5m or 24h, got ${describe(v)}`);
    if (ms <= 0) throw this.error(key, 'must be greater than zero');
    if (ms > maxMs) throw this.error(key, `must be at most ${maxMs}ms`);
    return ms;
  }

  /** A byte size; must be positive. */
  size(key: string): number | undefined {
    const v = this.scalar(key);
    if (v === undefined) return undefined;
    const bytes = typeof v === 'number' ? v : typeof v === 'string' ? parseSize(v) : undefined;
    if (bytes === undefined || !Number.isInteger(bytes)) {
      throw this.error(key, `must be a size such as 1MiB, 512KiB or 1000, got ${describe(v)}`);
    }
    if (bytes <= 0) throw this.error(key, 'must be greater than zero');
    return bytes;
  }

  map(key: string): MapReader | undefined {
    const node = this.take(key);
    if (node === undefined || isNullNode(node)) return undefined;
    if (!isMap(node)) throw this.error(key, 'must be a mapping');
    return new MapReader(this.source, node, this.child(key));
  }

  requiredMap(key: string): MapReader {
    const m = this.map(key);
    if (!m) throw this.error(undefined, `missing required field "${key}"`);
    return m;
  }

  /** A list of mappings. */
  list(key: string): MapReader[] {
    const node = this.take(key);
    if (node === undefined || isNullNode(node)) return [];
    if (!isSeq(node)) throw this.error(key, 'must be a list');
    return node.items.map((raw, i) => {
      const item = this.resolve(raw as Node);
      const path = `${this.child(key)}[${i}]`;
      if (!isMap(item)) throw errorAt(this.source, item as Node, path, 'must be a mapping');
      return new MapReader(this.source, item, path);
    });
  }

  /** A list of scalars. */
  scalarList(key: string): unknown[] | undefined {
    const node = this.take(key);
    if (node === undefined || isNullNode(node)) return undefined;
    if (!isSeq(node)) throw this.error(key, 'must be a list');
    return node.items.map((item, i) => {
      if (!isScalar(item)) throw errorAt(this.source, item as Node, `${this.child(key)}[${i}]`, 'must be a scalar');
      return item.value;
    });
  }

  /** A mapping of string to string (labels, headers). */
  stringMap(key: string): Record<string, string> {
    const m = this.map(key);
    const out: Record<string, string> = {};
    if (!m) return out;
    for (const k of m.keys()) out[k] = m.requiredString(k);
    m.finish();
    return out;
  }

  /** Rejects every key that no accessor read. */
  finish(): void {
    for (const pair of this.node.items) {
      const key = keyText(pair.key);
      if (!this.used.has(key)) {
        throw errorAt(this.source, pair.key as Node, this.child(key), `unknown field "${key}"`);
      }
    }
  }

  private valueNode(key: string): Node | undefined {
    return this.resolve(this.pair(key)?.value as Node | undefined);
  }

  /** Keys match as written, like `keys()`: YAML's own lookup would match `1.10` as 1.1. */
  private pair(key: string) {
    return this.node.items.find((p) => keyText(p.key) === key);
  }

  private resolve(node: Node | undefined): Node | undefined {
    return isAlias(node) ? (node.resolve(this.source.doc) as Node | undefined) : node;
  }

  private take(key: string): Node | undefined {
    this.used.add(key);
    return this.valueNode(key);
  }

  private scalar(key: string): unknown {
    const node = this.take(key);
    if (node === undefined || isNullNode(node)) return undefined;
    if (!isScalar(node)) throw this.error(key, 'must be a single value, not a list or mapping');
    return node.value;
  }
}

/** A scalar's text as written: plain scalars by their source, so YAML never retypes text. */
function scalarText(node: Scalar): string | undefined {
  if (node.type === 'PLAIN' && typeof node.source === 'string') return node.source === '' ? undefined : node.source;
  return node.value === null ? undefined : String(node.value);
}

function keyText(key: unknown): string {
  return isScalar(key) ? (scalarText(key) ?? '') : String(key);
}

function isNullNode(node: Node): boolean {
  return isScalar(node) && node.value === null;
}

/** A value quoted in an error, shortened: errors go to logs and reload answers. */
function describe(v: unknown): string {
  const text = typeof v === 'string' ? `"${v}"` : `${typeof v} ${JSON.stringify(v)}`;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function errorAt(source: Source, node: Node | undefined, path: string, message: string): ConfigError {
  const offset = node?.range?.[0] ?? 0;
  const pos = source.lines.linePos(offset);
  return new ConfigError(source.file, pos.line, pos.col, path, message);
}

/** Reads a configuration file's text; a missing or unreadable file is a ConfigError. */
export async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, 0, 0, '', `cannot read file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Parses YAML text into a strict reader of its top-level mapping, or undefined for an
 * empty document. Syntax errors and duplicate keys are ConfigErrors with line and column.
 */
export function parseYaml(text: string, file: string): MapReader | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = lines.linePos(yamlError.pos[0]);
    throw new ConfigError(file, pos.line, pos.col, '', `YAML: ${yamlError.message.split('\n')[0]}`);
  }
  if (doc.contents === null) return undefined;
  return MapReader.root({ file, lines, doc }, doc.contents);
}
