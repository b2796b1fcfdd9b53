import { Secret } from './secret.js';
import type { Config } from './types.js';

/**
 * A configuration as it crosses to the prober's thread (`postMessage`, the structured clone
 * algorithm). The clone keeps plain objects, arrays, shared references and typed arrays,
 * but not classes: a `Secret` (its value in a private field) would arrive empty, and a
 * Buffer as a plain Uint8Array. So secrets travel as tagged values, revived on the other
 * side; nothing leaves the process.
 */
export type WireConfig = { readonly wire: unknown };

const SECRET = '\u0000secret';

/** A configuration ready for `postMessage`; `fromWire` on the other side gives it back. */
export function toWire(config: Config): WireConfig {
  const seen = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (v instanceof Secret) return { [SECRET]: v.reveal() as unknown };
    if (typeof v !== 'object' || v === null || ArrayBuffer.isView(v) || v instanceof RegExp) return v;
    const done = seen.get(v);
    if (done !== undefined) return done;
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      seen.set(v, out);
      for (const x of v) out.push(walk(x));
      return out;
    }
    const out: Record<string, unknown> = {};
    seen.set(v, out);
    for (const [k, x] of Object.entries(v)) out[k] = walk(x);
    return out;
  };
  return { wire: walk(config) };
}

/** The configuration `toWire` sent, with its secrets and Buffers as they were. */
export function fromWire(message: WireConfig): Config {
  const seen = new Set<object>();
  const walk = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null || v instanceof RegExp) return v;
    if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (SECRET in v) {
      const value = (v as Record<string, unknown>)[SECRET];
      return new Secret(ArrayBuffer.isView(value) ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : (value as string));
    }
    if (seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = walk(v[i]);
    } else {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) o[k] = walk(o[k]);
    }
    return v;
  };
  return walk(message.wire) as Config;
}
