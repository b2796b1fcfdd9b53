const JSON_STRING = String.raw`"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4}))*"`;
const FIRST = new RegExp(String.raw`^(?:([A-Za-z_][\w-]*)|\[(\d+)\]|\[(${JSON_STRING})\])`);
const STEP = new RegExp(String.raw`^(?:\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[(${JSON_STRING})\])`);

/**
 * JSON path grammar (docs/configuration.md, "JSON paths"). The result holds the steps: a name as a
 * string, an index as a number.
 *
 * ```
 * path   = "$" step { step }  |  first { step }
 * first  = name | index | quoted
 * step   = "." name | index | quoted
 * name   = ( A-Z | a-z | "_" ) { A-Z | a-z | 0-9 | "_" | "-" }
 * index  = "[" 0-9 { 0-9 } "]"            a list item, counted from 0
 * quoted = "[" JSON string literal "]"     any name: ["a.b"], ["it's"], ["say \"hi\""], ["0"]
 * ```
 *
 * An index matches only an element of a list and a name only an own key of an object, so
 * `data[0]` finds nothing in `{"data":{"0":"x"}}` (that key is `data["0"]`), and `length`
 * or `constructor` are never read off a list, a string or a prototype.
 *
 * Parses a JSON path, or returns undefined when it is not one.
 */
export function parseJsonPath(path: string): (string | number)[] | undefined {
  let rest = path.startsWith('$') ? path.slice(1) : path;
  let pattern = path.startsWith('$') ? STEP : FIRST;
  const out: (string | number)[] = [];
  while (rest.length > 0) {
    const m = pattern.exec(rest);
    if (!m) return undefined;
    out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string)));
    rest = rest.slice(m[0].length);
    pattern = STEP;
  }
  return out.length > 0 ? out : undefined;
}

