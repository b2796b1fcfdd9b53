import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, Problems } from './errors.js';
import { PRESET_NAMES, presetSchema, unknownField, type PresetName, type PresetSettings } from './schema.js';
import { formatPath, isRecord, parseYamlFile, PlainScalar, validate, type Path, type YamlFile } from './yaml-schema.js';

/**
 * Product presets: `preset: NAME` on a cluster merges `presets/NAME.yml` (a cluster
 * without name and servers, see `presetSchema`) under the cluster's own settings, before
 * the configuration is validated, by the rule in `PRESET_MERGE_RULE`. Errors keep pointing
 * at the file that holds the offending text: the configuration, or the preset file.
 */

/** `presets/` at the repository (or image) root: two levels above src/config, three above dist/src/config. */
export function presetDir(): string {
  const candidates = ['../../presets/', '../../../presets/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((dir) => existsSync(join(dir, 'proget.yml'))) ?? candidates[0]!;
}

/** A parameter a preset declares: `{params.NAME}` in its text. */
export type Parameter = NonNullable<PresetSettings['parameters']>[string];

/** A preset file, read and checked. */
export interface Preset {
  readonly name: PresetName;
  readonly file: string;
  readonly yaml: YamlFile;
  /** The file's data without `parameters`: what is merged under a cluster. */
  readonly data: Readonly<Record<string, unknown>>;
  readonly parameters: Readonly<Record<string, Parameter>>;
}

const PARAM = /\{params\.([A-Za-z0-9_]*)\}/g;

/** The timing fields: a preset's cluster-wide value is a default, below the user's `global`. */
const TIMING = ['heartbeat_interval', 'probe_timeout', 'stale_timeout'] as const;

/**
 * Reads `presets/NAME.yml` from `dir` and checks it: the preset schema, and every
 * `{params.NAME}` declared under `parameters` and every declared parameter used. A
 * parameter with neither a default nor `required: true` may be used only as a whole text
 * (left out when the cluster gives no value).
 * @throws ConfigError naming the preset file, line, column and path.
 */
export function readPreset(name: PresetName, dir = presetDir()): Preset {
  const file = join(dir, `${name}.yml`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, 0, 0, '', `cannot read preset file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const yaml = parseYamlFile(text, file);
  if (yaml.value === undefined) throw new ConfigError(file, 1, 1, '', 'the preset file is empty');
  const settings = validate({ ...yaml, value: timingAtDefaults(yaml.value) }, presetSchema, { unknownField });
  const parameters = settings.parameters ?? {};
  const { parameters: _, ...data } = yaml.value as Record<string, unknown>;
  const used = new Set<string>();
  walkText(data, [], (value, path) => {
    for (const [, param] of value.matchAll(PARAM)) {
      const p = parameters[param!];
      if (!p) throw yaml.error(path, `uses {params.${param}}, but "parameters" declares no "${param}"; declared: ${Object.keys(parameters).join(', ') || 'none'}`);
      if (p.default === undefined && !p.required && value !== `{params.${param}}`) {
        throw yaml.error(path, `parameter "${param}" has no default and is not required, so it may only stand alone ("{params.${param}}"), to be left out when unset`);
      }
      used.add(param!);
    }
  });
  for (const param of Object.keys(parameters)) {
    if (!used.has(param)) throw yaml.error(['parameters', param], `parameter "${param}" is declared but not used`, true);
  }
  return { name, file, yaml, data, parameters };
}

/**
 * The preset's data with its timing fields' parameters at their defaults, to be checked as
 * durations: `stale_timeout: "{params.ttl}s"` derives the timing from the product's own
 * setting (presets/patroni.yml), which the cluster gives; the filled value is checked again
 * with the cluster's configuration.
 */
function timingAtDefaults(value: unknown): unknown {
  if (!isRecord(value)) return value;
  const parameters = isRecord(value['parameters']) ? value['parameters'] : {};
  const out = { ...value };
  for (const field of TIMING) {
    const text = textOf(out[field]);
    if (text === undefined || !text.includes('{params.')) continue;
    out[field] = text.replace(PARAM, (whole, param: string) => {
      const p = parameters[param];
      return (isRecord(p) ? textOf(p['default']) : undefined) ?? whole;
    });
  }
  return out;
}

/**
 * Whether a preset field is a template on a parameter the cluster gave (patroni's
 * `stale_timeout: "{params.ttl}s"` with `parameters: { ttl: 20 }`): the user's own value
 * for this cluster, which `global` does not replace.
 */
function fromGivenParameter(field: unknown, cluster: Readonly<Record<string, unknown>>): boolean {
  const given = isRecord(cluster['parameters']) ? cluster['parameters'] : {};
  const text = textOf(field);
  return text !== undefined && [...text.matchAll(PARAM)].some((m) => Object.hasOwn(given, m[1]!));
}

/** Calls `visit` with every text of a parsed YAML value and its path. */
function walkText(v: unknown, path: Path, visit: (text: string, path: Path) => void): void {
  if (typeof v === 'string') visit(v, path);
  else if (Array.isArray(v)) v.forEach((item, i) => walkText(item, [...path, i], visit));
  else if (isRecord(v)) for (const [k, item] of Object.entries(v)) walkText(item, [...path, k], visit);
}

/** A scalar as the text written in the file, or undefined for anything else. */
function textOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  return v instanceof PlainScalar && v.value !== null ? v.source : undefined;
}

/** Where each merged component came from: its index in the cluster's list, in the preset's, or both. */
interface ComponentOrigin {
  readonly cluster?: number;
  readonly preset?: number;
}

interface ClusterOrigin {
  readonly preset: Preset;
  /** By merged index; undefined when the cluster's `components` was no list (taken whole). */
  readonly components?: readonly ComponentOrigin[];
}

/** A configuration with its presets merged in, and the preset texts it used (for the reload hash). */
export interface WithPresets {
  readonly yaml: YamlFile;
  readonly presetTexts: readonly string[];
  /** Where a preset's component timing is kept over the user's `global` (Config.warnings). */
  readonly warnings: readonly string[];
}

/**
 * Merges the preset of every cluster that names one (a known name; an unknown one is left
 * for the schema to report). The result reads like the configuration file, and its `error`
 * points at whichever file holds the text at the path: the cluster's, else the preset's;
 * and where the preset's text there is made of parameters the user gave (or should have
 * given), at the user's `parameters`. A timing field the user's `global` sets and the
 * cluster does not is taken from `global`, not from the preset's cluster-wide value.
 * @throws ConfigError for a parameter the preset lacks or a required one not given, and
 * for a component entry without "probe" or "endpoint" whose name the preset lacks: every
 * cluster's at once.
 */
export function applyPresets(yaml: YamlFile, dir = presetDir()): WithPresets {
  const root = yaml.value;
  if (!isRecord(root) || !Array.isArray(root['clusters'])) return { yaml, presetTexts: [], warnings: [] };
  const global = isRecord(root['global']) ? root['global'] : {};
  const read = new Map<PresetName, Preset>();
  const origins = new Map<number, ClusterOrigin>();
  const problems = new Problems();
  const warnings: string[] = [];
  const clusters = (root['clusters'] as unknown[]).map((c, i) => {
    const name = isRecord(c) ? textOf(c['preset']) : undefined;
    if (!isRecord(c) || !(PRESET_NAMES as readonly string[]).includes(name ?? '')) return c;
    const merged = problems.attempt(() => {
      let preset = read.get(name as PresetName);
      if (!preset) read.set(name as PresetName, (preset = readPreset(name as PresetName, dir)));
      const base = fillParameters(preset, c, yaml, ['clusters', i]);
      for (const field of TIMING) {
        if (Object.hasOwn(global, field) && !Object.hasOwn(c, field) && !fromGivenParameter(preset.data[field], c)) delete base[field];
      }
      warnings.push(...timingKeptOverGlobal(preset, c, global, yaml, i));
      const { data, components } = mergeCluster(preset, base, c, yaml, ['clusters', i]);
      origins.set(i, { preset, ...(components ? { components } : {}) });
      return data;
    });
    return merged ?? c;
  });
  problems.done();
  if (origins.size === 0) return { yaml, presetTexts: [], warnings };
  const merged: YamlFile = {
    ...yaml,
    value: { ...root, clusters },
    error(path, message, atKey) {
      const i = path[0] === 'clusters' && typeof path[1] === 'number' ? path[1] : -1;
      const origin = origins.get(i);
      if (!origin) return yaml.error(path, message, atKey);
      let rest = path.slice(2);
      let places: { file: YamlFile; path: Path }[] = [
        { file: yaml, path: ['clusters', i] },
        { file: origin.preset.yaml, path: [] },
      ];
      const j = rest[1];
      if (rest[0] === 'components' && typeof j === 'number' && origin.components) {
        const from = origin.components[j] ?? {};
        places = [
          ...(from.cluster !== undefined ? [{ file: yaml, path: ['clusters', i, 'components', from.cluster] }] : []),
          ...(from.preset !== undefined ? [{ file: origin.preset.yaml, path: ['components', from.preset] }] : []),
        ];
        rest = rest.slice(2);
      }
      const full = places.map((p) => ({ file: p.file, path: [...p.path, ...rest] }));
      const at = full.find((p) => p.file.has(p.path)) ?? full[0]!;
      if (at.file === yaml) return yaml.error(at.path, message, atKey);
      const user = userParameter(origin.preset, at.path, (root['clusters'] as unknown[])[i]);
      if (user) return yaml.error(['clusters', i, ...user], `${message} (through preset "${origin.preset.name}")`);
      return at.file.error(at.path, `${message} (preset "${origin.preset.name}" of ${formatPath(['clusters', i])})`, atKey);
    },
  };
  return { yaml: merged, presetTexts: [...read.values()].map((p) => p.yaml.text), warnings };
}

/**
 * Where in the user's cluster a problem at `path` of the preset belongs, when the preset's
 * text there is made of parameters: at the parameter the user gave, for a text made of
 * one (`password_file: "{params.password_file}"`: the file they named); at their
 * `parameters` (else `preset`) for a mapping made of parameters (`basic_auth` without the
 * password they did not give). Undefined when the preset's own text is at fault.
 */
function userParameter(preset: Preset, path: Path, cluster: unknown): Path | undefined {
  let raw: unknown = preset.data;
  for (const seg of path) raw = Array.isArray(raw) && typeof seg === 'number' ? raw[seg] : isRecord(raw) ? raw[String(seg)] : undefined;
  const used = new Set<string>();
  walkText(raw, [], (value) => {
    for (const [, param] of value.matchAll(PARAM)) used.add(param!);
  });
  if (used.size === 0 || !isRecord(cluster)) return undefined;
  const given = isRecord(cluster['parameters']) ? cluster['parameters'] : undefined;
  const named = [...used].find((p) => given !== undefined && Object.hasOwn(given, p));
  if (typeof raw === 'string' && named !== undefined) return ['parameters', named];
  return [given !== undefined ? 'parameters' : 'preset'];
}

/**
 * A warning for each preset component that sets a timing field the user's `global` sets
 * too, where the user's cluster does not set it for that component: the preset's value is
 * kept (it is the product's, such as ProGet's web heartbeat that moves only with web
 * requests), and the user told how to change it.
 */
function timingKeptOverGlobal(preset: Preset, cluster: Record<string, unknown>, global: Record<string, unknown>, yaml: YamlFile, i: number): string[] {
  const own = Array.isArray(cluster['components']) ? cluster['components'] : [];
  const out: string[] = [];
  for (const component of (preset.data['components'] ?? []) as unknown[]) {
    if (!isRecord(component) || isDisabled(component)) continue;
    const name = textOf(component['name']);
    const mine = own.find((c) => isRecord(c) && textOf(c['name']) === name) as Record<string, unknown> | undefined;
    if (mine !== undefined && isDisabled(mine)) continue;
    for (const field of TIMING) {
      if (!Object.hasOwn(component, field) || !Object.hasOwn(global, field) || Object.hasOwn(cluster, field) || (mine && Object.hasOwn(mine, field))) continue;
      const kept = textOf(component[field]) ?? '?';
      out.push(
        yaml.error(['global', field], `warning: component "${name}" of ${formatPath(['clusters', i])} keeps preset "${preset.name}"'s ${field} ${kept}; to change it, set it on that component: components: [{ name: ${name}, ${field}: ... }]`)
          .message,
      );
    }
  }
  return out;
}

/**
 * The preset's data with `{params.NAME}` filled in from the cluster's `parameters`, else
 * the defaults; a text that is only a parameter without a value is left out.
 */
function fillParameters(preset: Preset, cluster: Record<string, unknown>, yaml: YamlFile, at: Path): Record<string, unknown> {
  const given = isRecord(cluster['parameters']) ? cluster['parameters'] : {};
  const values = new Map<string, string>();
  for (const [param, raw] of Object.entries(given)) {
    if (!Object.hasOwn(preset.parameters, param)) {
      const known = Object.keys(preset.parameters).join(', ') || 'none';
      throw yaml.error([...at, 'parameters', param], `preset "${preset.name}" has no parameter "${param}"; known: ${known}`, true);
    }
    const value = textOf(raw);
    if (value === undefined && raw !== undefined) throw yaml.error([...at, 'parameters', param], 'must be text');
    if (value !== undefined) values.set(param, value);
  }
  for (const [param, p] of Object.entries(preset.parameters)) {
    if (!values.has(param) && p.default !== undefined) values.set(param, p.default);
    if (!values.has(param) && p.required) {
      const where = isRecord(cluster['parameters']) ? [...at, 'parameters'] : [...at, 'preset'];
      throw yaml.error(where, `preset "${preset.name}" needs parameter "${param}": ${p.description}`);
    }
  }
  return fill(preset.data, values) as Record<string, unknown>;
}

/** Marks a text left out because it names a parameter without a value. */
const LEFT_OUT = Symbol('left out');

function fill(v: unknown, values: ReadonlyMap<string, string>): unknown {
  if (typeof v === 'string') {
    const whole = /^\{params\.([A-Za-z0-9_]*)\}$/.exec(v);
    if (whole && !values.has(whole[1]!)) return LEFT_OUT;
    return v.replace(PARAM, (_, param: string) => values.get(param)!);
  }
  if (Array.isArray(v)) return v.map((item) => fill(item, values)).filter((item) => item !== LEFT_OUT);
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      const filled = fill(item, values);
      if (filled !== LEFT_OUT) define(out, k, filled);
    }
    return out;
  }
  return v;
}

/** Sets a key as data: a key "__proto__" never becomes the prototype. */
function define(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Mappings merge key by key with the patch winning, a key with no value (undefined)
 * removes the base's, and anything else (text, number, list) is replaced whole.
 */
function mergeValue(base: unknown, patch: unknown): unknown {
  if (!isRecord(base) || !isRecord(patch)) return patch;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) define(out, k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete out[k];
    else define(out, k, Object.hasOwn(base, k) ? mergeValue(base[k], v) : v);
  }
  return out;
}

const isDisabled = (entry: unknown): boolean => isRecord(entry) && entry['enabled'] instanceof PlainScalar && entry['enabled'].value === false;

/** The cluster merged over the (filled) preset, components by name. */
function mergeCluster(
  preset: Preset,
  base: Record<string, unknown>,
  cluster: Record<string, unknown>,
  yaml: YamlFile,
  at: Path,
): { data: Record<string, unknown>; components?: ComponentOrigin[] } {
  const { components: own, ...rest } = cluster;
  const { components: presetList, ...presetRest } = base;
  const data = mergeValue(presetRest, rest) as Record<string, unknown>;
  const fromPreset = (presetList as unknown[]).map((value, j) => ({ value, from: { preset: j } as ComponentOrigin }));
  if (!Object.hasOwn(cluster, 'components') || own === undefined) {
    define(data, 'components', fromPreset.map((c) => c.value));
    return { data, components: fromPreset.map((c) => c.from) };
  }
  if (!Array.isArray(own)) {
    // Not a list: taken whole, for the schema to report.
    define(data, 'components', own);
    return { data };
  }
  const merged = [...fromPreset];
  own.forEach((entry, k) => {
    const name = isRecord(entry) ? textOf(entry['name']) : undefined;
    const j = name === undefined ? -1 : merged.findIndex((m) => isRecord(m.value) && textOf(m.value['name']) === name);
    // A second entry of one name is kept apart, for the loader to report as a duplicate.
    if (j >= 0 && merged[j]!.from.cluster === undefined) {
      merged[j] = { value: mergeValue(merged[j]!.value, entry), from: { ...merged[j]!.from, cluster: k } };
      return;
    }
    if (j < 0 && name !== undefined && isRecord(entry) && entry['probe'] === undefined && entry['endpoint'] === undefined) {
      const known = fromPreset.map((c) => textOf((c.value as Record<string, unknown>)['name'])).join(', ');
      throw yaml.error(
        [...at, 'components', k, 'name'],
        `preset "${preset.name}" has no component "${name}" (known: ${known}); a component of the cluster's own needs "probe" or "endpoint"`,
      );
    }
    merged.push({ value: entry, from: { cluster: k } });
  });
  const kept = merged.filter((m) => !isDisabled(m.value));
  define(data, 'components', kept.map((m) => m.value));
  return { data, components: kept.map((m) => m.from) };
}
