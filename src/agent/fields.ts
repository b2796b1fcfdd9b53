import { z } from 'zod';
import { PlainScalar } from '../config/yaml-schema.js';

/**
 * Schema fields the agent's settings share, built on the exporter's building blocks
 * (src/config/yaml-schema.ts) so text is taken as written here too.
 */

export { duration, integer, size } from '../config/yaml-schema.js';

/**
 * A mapping's schema that reports a plain scalar in its place (`tcp: 80`) as "must be a
 * mapping, got "80"". Without it zod takes the PlainScalar holding the scalar for a mapping
 * and reports that object's own fields ("value", "source") as unknown.
 */
export const mapping = <S extends z.ZodType>(schema: S) => z.preprocess((v) => (v instanceof PlainScalar ? v.source : v), schema);
