import { z } from 'zod';
import { formatDuration, parseDuration, parseSize } from '../config/units.js';
import { number, PlainScalar, text } from '../config/yaml-schema.js';

/**
 * Schema fields the agent's settings share, built on the exporter's building blocks
 * (src/config/yaml-schema.ts) so text is taken as written here too.
 */

/** A duration such as `500ms`, `15s` or `1m`, in milliseconds, at most `maxMs`. */
export const duration = (maxMs: number) =>
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
    .meta({ description: `A duration: 500ms, 15s, 1m; at most ${formatDuration(maxMs)}.`, pattern: '^([0-9]+(ms|s|m|h|d))+$' });

/** A byte size such as `1MiB`, `512KB` or `1000`, in bytes. */
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

/** An integer from `min` to `max`. */
export const integer = (min: number, max: number, what: string) =>
  number().refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: `must be ${what} (${min}-${max})` });

/**
 * A mapping's schema that reports a plain scalar in its place (`tcp: 80`) as "must be a
 * mapping, got "80"". Without it zod takes the PlainScalar holding the scalar for a mapping
 * and reports that object's own fields ("value", "source") as unknown.
 */
export const mapping = <S extends z.ZodType>(schema: S) => z.preprocess((v) => (v instanceof PlainScalar ? v.source : v), schema);
