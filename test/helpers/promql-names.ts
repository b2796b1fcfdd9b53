/**
 * Metric names used by PromQL expressions and Grafana dashboards, for the contract tests
 * that hold dashboards and alert rules to the metric catalogue, and the list of every
 * panel query for the end-to-end test that runs them against a real Prometheus.
 *
 * The tokenizer is deliberately small: it knows enough PromQL to tell a metric name from
 * a function, an aggregation, a keyword, a label name in a matcher or grouping list, a
 * string, a number or a duration. It does not validate syntax (promtool does that).
 */

/** One vector selector: its metric name and the label names its matchers use. */
export interface Selector {
  readonly name: string;
  readonly labels: readonly string[];
}

/** Keywords followed by a parenthesised list of label names, not expressions. */
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Keywords and literals that can stand where a metric name could. */
const BARE_KEYWORDS = new Set(['and', 'or', 'unless', 'atan2', 'bool', 'offset', 'inf', 'nan']);

const IDENT_START = /[A-Za-z_:]/;
const IDENT_PART = /[A-Za-z0-9_:]/;
const LABEL_START = /[A-Za-z_]/;
const LABEL_PART = /[A-Za-z0-9_]/;
// Hex, durations such as 1h30m, and decimal or scientific numbers.
const NUMBER = /^(?:0[xX][0-9a-fA-F]+|(?:\d+(?:ms|[smhdwy]))+|\d*\.?\d+(?:[eE][+-]?\d+)?)/;

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}

  get done(): boolean {
    return this.pos >= this.src.length;
  }

  peek(offset = 0): string {
    return this.src[this.pos + offset] ?? '';
  }

  skipSpace(): void {
    for (;;) {
      const c = this.peek();
      if (c === '#') {
        while (!this.done && this.peek() !== '\n') this.pos++;
      } else if (c !== '' && /\s/.test(c)) {
        this.pos++;
      } else {
        return;
      }
    }
  }

  /** Reads a quoted string starting at the current quote; returns its unescaped content. */
  readString(): string {
    const quote = this.peek();
    this.pos++;
    let out = '';
    while (!this.done) {
      const c = this.peek();
      this.pos++;
      if (c === quote) return out;
      if (c === '\\' && quote !== '`') {
        out += this.peek();
        this.pos++;
      } else {
        out += c;
      }
    }
    throw new Error(`unterminated string in PromQL: ${this.src}`);
  }

  readWhile(re: RegExp): string {
    const start = this.pos;
    while (!this.done && re.test(this.peek())) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** Skips from an opening bracket to its partner, stepping over strings. */
  skipBalanced(open: string, close: string): void {
    let depth = 0;
    while (!this.done) {
      const c = this.peek();
      if (c === '"' || c === "'" || c === '`') {
        this.readString();
        continue;
      }
      this.pos++;
      if (c === open) depth++;
      if (c === close && --depth === 0) return;
    }
    throw new Error(`unbalanced ${open}${close} in PromQL: ${this.src}`);
  }

  /** The next identifier-like word after blanks, without consuming anything. */
  peekWord(): string {
    const save = this.pos;
    this.skipSpace();
    const word = this.readWhile(IDENT_PART);
    this.pos = save;
    return word;
  }

  peekChar(): string {
    const save = this.pos;
    this.skipSpace();
    const c = this.peek();
    this.pos = save;
    return c;
  }
}

/** Parses `{label="v", ...}` at the current brace; returns the label names and any `__name__="x"`. */
function readMatchers(s: Scanner): { labels: string[]; name: string | undefined } {
  const labels: string[] = [];
  let name: string | undefined;
  s.pos++; // '{'
  for (;;) {
    s.skipSpace();
    const c = s.peek();
    if (c === '}') {
      s.pos++;
      return { labels, name };
    }
    if (c === ',') {
      s.pos++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      // A quoted metric name (Prometheus 3 UTF-8 syntax) or a quoted label name.
      const quoted = s.readString();
      s.skipSpace();
      if ('=!'.includes(s.peek())) labels.push(quoted);
      else name = quoted;
      continue;
    }
    if (!LABEL_START.test(c)) throw new Error(`unexpected ${JSON.stringify(c)} in label matchers: ${s.src}`);
    const label = s.readWhile(LABEL_PART);
    s.skipSpace();
    const op = s.readWhile(/[=!~]/);
    s.skipSpace();
    if (!['=', '!=', '=~', '!~'].includes(op) || !'"\'`'.includes(s.peek()) || s.peek() === '') {
      throw new Error(`bad matcher for ${label} in PromQL: ${s.src}`);
    }
    const value = s.readString();
    if (label === '__name__') {
      if (op === '=') name = value;
    } else {
      labels.push(label);
    }
  }
}

/**
 * Every vector selector in a PromQL expression, in order of appearance. Grafana variables
 * (`$var`, `${var}`, `[[var]]`) are tolerated where Grafana allows them: in strings, in
 * range brackets and as values. A selector whose name is a regex on `__name__` has no
 * knowable name and is left out.
 */
export function selectors(expr: string): Selector[] {
  const s = new Scanner(expr);
  const out: Selector[] = [];
  for (;;) {
    s.skipSpace();
    if (s.done) return out;
    const c = s.peek();
    if (c === '"' || c === "'" || c === '`') {
      s.readString();
    } else if (c === '{') {
      const m = readMatchers(s);
      if (m.name !== undefined) out.push({ name: m.name, labels: m.labels });
    } else if (c === '[') {
      // Range, subquery or Grafana's [[var]]: durations and variables only.
      s.skipBalanced('[', ']');
    } else if (c === '$') {
      s.pos++;
      if (s.peek() === '{') s.skipBalanced('{', '}');
      else s.readWhile(/\w/);
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s.peek(1)))) {
      const m = NUMBER.exec(expr.slice(s.pos));
      s.pos += m ? m[0].length : 1;
    } else if (IDENT_START.test(c)) {
      const word = s.readWhile(IDENT_PART);
      const lower = word.toLowerCase();
      if (LABEL_LIST_KEYWORDS.has(lower)) {
        if (s.peekChar() === '(') {
          s.skipSpace();
          s.skipBalanced('(', ')');
        }
      } else if (BARE_KEYWORDS.has(lower)) {
        // An operator, modifier or literal.
      } else if (s.peekChar() === '(') {
        // A function or aggregation call; its arguments are scanned as they come.
      } else if (['by', 'without'].includes(s.peekWord().toLowerCase())) {
        // An aggregation written `sum by (l) (...)`.
      } else {
        const labels: string[] = [];
        if (s.peekChar() === '{') {
          s.skipSpace();
          labels.push(...readMatchers(s).labels);
        }
        out.push({ name: word, labels });
      }
    } else {
      s.pos++;
    }
  }
}

/** The distinct metric names an expression reads, sorted. */
export function metricNames(expr: string): string[] {
  return [...new Set(selectors(expr).map((sel) => sel.name))].sort();
}

/**
 * The PromQL inside a Grafana Prometheus variable query: `label_values(expr, label)` and
 * `query_result(expr)` wrap an expression; `label_values(label)` and `metrics(re)` have none.
 */
export function variableQueryExpr(query: string): string | undefined {
  const q = query.trim();
  const labelValues = /^label_values\s*\(([\s\S]*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)$/.exec(q);
  if (labelValues) return labelValues[1];
  const queryResult = /^query_result\s*\(([\s\S]*)\)$/.exec(q);
  if (queryResult) return queryResult[1];
  if (/^(label_values|label_names|metrics)\s*\(/.test(q)) return undefined;
  return q;
}

// Dashboards ---------------------------------------------------------------------------

export interface DashboardTarget {
  refId?: string;
  expr?: string;
  instant?: boolean;
  range?: boolean;
  format?: string;
  hide?: boolean;
  datasource?: unknown;
  [key: string]: unknown;
}

export interface DashboardPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: unknown;
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
  fieldConfig?: { defaults?: Record<string, unknown>; overrides?: unknown[] };
  [key: string]: unknown;
}

export interface DashboardVariable {
  name: string;
  type: string;
  query?: unknown;
  definition?: string;
  datasource?: unknown;
  [key: string]: unknown;
}

export interface Dashboard {
  uid?: string;
  id?: number | null;
  title?: string;
  panels?: DashboardPanel[];
  templating?: { list?: DashboardVariable[] };
  [key: string]: unknown;
}

/** Every panel of a dashboard, rows and the panels nested in collapsed rows included. */
export function allPanels(dashboard: Dashboard): DashboardPanel[] {
  const out: DashboardPanel[] = [];
  const walk = (panels: DashboardPanel[] | undefined): void => {
    for (const p of panels ?? []) {
      out.push(p);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** A variable's value: one string, or several (a multi-value selection, or "All" expanded). */
export type VariableValue = string | readonly string[];

/** Built-in Grafana variables, at values a test against a short-lived Prometheus can use. */
export const defaultBuiltins: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
};

/** As Grafana does for Prometheus: a regex escape, itself escaped for a double-quoted PromQL string. */
function regexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}]/g, '\\\\$&');
}

function formatValue(value: VariableValue, format: string | undefined): string {
  if (typeof value === 'string') return value;
  if (format === 'csv') return value.join(',');
  if (format === 'pipe') return value.join('|');
  if (value.length === 1) return regexEscape(value[0] ?? '');
  // What Grafana's Prometheus data source does with a multi-value variable.
  return `(${value.map(regexEscape).join('|')})`;
}

/**
 * Substitutes Grafana template variables the way Grafana does: `$name`, `${name}`,
 * `${name:format}` and `[[name]]`; a name not in `vars` (a regex group such as `$1`) is
 * left as it is.
 */
export function substituteVariables(text: string, vars: Readonly<Record<string, VariableValue>>): string {
  const all: Record<string, VariableValue> = { ...defaultBuiltins, ...vars };
  return text.replace(
    /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::(\w+))?\}/g,
    (match, plain: string | undefined, brName: string | undefined, brFmt: string | undefined, name: string | undefined, fmt: string | undefined) => {
      const key = plain ?? brName ?? name ?? '';
      const value = all[key];
      return value === undefined ? match : formatValue(value, brFmt ?? fmt);
    },
  );
}

export interface PanelQuery {
  panelTitle: string;
  refId: string;
  expr: string;
  /** True when Grafana runs the query at one instant (tables, stats), false for a range. */
  instant: boolean;
}

/**
 * Every visible Prometheus query of a dashboard's panels, with template variables
 * substituted from `vars` (built-ins such as `$__rate_interval` default to
 * `defaultBuiltins`).
 */
export function panelQueries(dashboard: Dashboard, vars: Readonly<Record<string, VariableValue>>): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const panel of allPanels(dashboard)) {
    for (const t of panel.targets ?? []) {
      if (t.hide === true || typeof t.expr !== 'string' || t.expr.trim() === '') continue;
      out.push({
        panelTitle: panel.title ?? '',
        refId: t.refId ?? '',
        expr: substituteVariables(t.expr, vars),
        instant: t.instant === true && t.range !== true,
      });
    }
  }
  return out;
}
